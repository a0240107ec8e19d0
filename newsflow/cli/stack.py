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
    workers: Annotated[bool, typer.Option(help="also start one worker per stage")] = True,
) -> None:
    """Fetch (first time) and start the local services, create topics and index, start workers."""
    from newsflow import stack

    settings = settings_of(ctx)
    try:
        with console.status(
            "starting Kafka, Elasticsearch, Prefect and CoreNLP (first time: downloads)"
        ):
            stack.up(settings)
        init(settings)
    except stack.StackError as exc:
        raise fail(str(exc)) from exc
    if workers:
        start_workers(settings, replicas=1)
    print_status(settings)


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the workers, then the services. Data stays in the stack folder."""
    from newsflow import stack

    settings = settings_of(ctx)
    stop_workers(settings)
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
