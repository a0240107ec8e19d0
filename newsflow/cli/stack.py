"""``newsflow stack up|down|clean|status|init``: the local services (:mod:`newsflow.stack`),
the topics and index on them, and the workers started with them."""

from __future__ import annotations

from typing import Annotated

import typer

from newsflow.cli.common import console, fail, settings_of
from newsflow.cli.status import print_status, print_status_json
from newsflow.cli.workers import start_workers, stop_workers
from newsflow.config import Settings

app = typer.Typer(help="The local services: Kafka, Elasticsearch, Prefect, CoreNLP, and workers.",
                  no_args_is_help=True)


def init(settings: Settings) -> None:
    """Create the topics and the index behind the alias (idempotent)."""
    from workers.io import elastic, kafka_admin

    kafka_admin.ensure_topics(settings)
    elastic.ensure_index(elastic.client(settings), settings)


@app.command("up")
def up(
    ctx: typer.Context,
    workers: Annotated[bool, typer.Option(help="also start the stage workers")] = True,
    nodes: Annotated[int | None, typer.Option(
        min=1, max=5, help="hosts side by side: each its own Kafka broker (one KRaft quorum), "
        "Elasticsearch node (one cluster), CoreNLP and Prefect worker; one Prefect server. "
        "[default: as last started, else 1]")] = None,
    replicas: Annotated[int, typer.Option(
        min=1, help="on several hosts: flow runs per stage, spread over the hosts")] = 1,
) -> None:
    """Fetch (first time) and start the local services, create topics and index, start workers.

    One host (the default): the stage workers are background processes. Several (--nodes 3):
    every host gets a Prefect worker, and the stage workers are flow runs of the work pool,
    spread over the hosts and kept at --replicas each by the supervisor.
    """
    from newsflow import stack
    from newsflow.stack import prefect_workers

    settings = settings_of(ctx)
    hosts = nodes if nodes is not None else stack.recorded_nodes(settings)
    try:
        with console.status(
            "starting Kafka, Elasticsearch, Prefect and CoreNLP (first time: downloads)"
        ):
            # A cluster's nodes boot together on shared cores: they take longer.
            stack.up(settings, nodes=hosts, timeout=180 if hosts == 1 else 300)
        settings = stack.widen(settings, hosts)
        init(settings)
        if hosts > 1:
            prefect_workers.start_hosts(settings, hosts)
    except stack.StackError as exc:
        raise fail(str(exc)) from exc
    if workers and hosts > 1:
        from newsflow.cli.pipeline import deploy_stages

        deploy_stages(settings, replicas)
    elif workers:
        start_workers(settings, replicas=replicas)
    print_status(settings)


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the workers, then the services. Data stays in the stack folder."""
    from newsflow import stack

    settings = settings_of(ctx)
    stop_workers(settings)  # each host's Prefect worker and its flow runs too
    stack.down(settings)
    console.print("stack stopped")


@app.command("clean")
def clean(ctx: typer.Context) -> None:
    """Stop everything, then delete the stack folder: downloads, data and logs (and the
    Elasticsearch folder under /var/tmp, when a private checkout put it there)."""
    from newsflow import stack

    settings = settings_of(ctx)
    stop_workers(settings)
    for folder in stack.remove(settings):
        console.print(f"removed {folder}")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option(
        "--json", help='for scripts: {"services": [{name, host, pid, endpoint, state}], '
        '"workers": [{stage, host, pid}]}')] = False,
) -> None:
    """What runs: services, workers, each stage's lag, documents in the index."""
    if as_json:
        print_status_json(settings_of(ctx))
    else:
        print_status(settings_of(ctx))


@app.command("init")
def init_command(ctx: typer.Context) -> None:
    """Create the topics and the index behind the alias on running services (idempotent)."""
    settings = settings_of(ctx)
    init(settings)
    console.print(f"topics {settings.topic_prefix}.* and alias '{settings.es_alias}' ready")


@app.command("kill-host")
def kill_host(
    ctx: typer.Context,
    host: Annotated[int, typer.Argument(min=1, help="the host of `stack up --nodes N` to lose")],
) -> None:
    """Lose a whole host of the local cluster at once: SIGKILL its broker, Elasticsearch node,
    CoreNLP, Prefect worker and flow runs. `newsflow stack up` brings it back."""
    from newsflow import stack
    from newsflow.stack import hosts

    settings = settings_of(ctx)
    if host > (nodes := stack.recorded_nodes(settings)):
        raise fail(f"the local stack has {nodes} host(s): there is no host {host}")
    console.print(f"host {host}: killed {len(hosts.kill(settings, host))} processes")
