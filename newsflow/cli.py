"""``newsflow``: the one command for people. Settings are loaded here, once, and passed down.

    newsflow stack up|down|status     local Kafka, Elasticsearch, Prefect (+ the stage workers)
    newsflow workers start|stop       the stage workers as background processes
    newsflow worker STAGE             one stage in the foreground (or offline over JSONL)
    newsflow publish PATH...          files into news.raw (through the Prefect flow)
    newsflow search QUERY             faceted full-text search
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from newsflow import logs
from newsflow.config import Settings, env_var, load_settings
from workers.topology import STAGES

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})
stack_app = typer.Typer(help="The local services: Kafka, Elasticsearch, Prefect, and workers.",
                        no_args_is_help=True)
workers_app = typer.Typer(help="Stage workers as background processes.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(workers_app, name="workers")
console = Console()
err = Console(stderr=True)


def _opt(field: str, help: str, **kw: Any) -> Any:
    """An option bound to a settings field, showing its environment variable in --help."""
    return typer.Option(f"--{field.replace('_', '-')}", envvar=env_var(field),
                        show_envvar=True, help=help, **kw)


@app.callback()
def main(
    ctx: typer.Context,
    kafka_bootstrap: Annotated[str | None, _opt("kafka_bootstrap", "Kafka bootstrap servers "
                                                "[default: 127.0.0.1:9092]")] = None,
    es_url: Annotated[str | None, _opt("es_url", "Elasticsearch URL "
                                       "[default: http://127.0.0.1:9200]")] = None,
    prefect_api_url: Annotated[str | None, _opt("prefect_api_url", "Prefect API URL "
                                                "[default: http://127.0.0.1:4200/api]")] = None,
    log_level: Annotated[str | None, _opt("log_level", "Log level [default: INFO]")] = None,
) -> None:
    """newsflow: news articles from Kafka, cleaned, deduplicated, enriched, searchable.

    Every option can also be set as NEWSFLOW_<OPTION> in the environment or a .env file.
    """
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, es_url=es_url,
                             prefect_api_url=prefect_api_url, log_level=log_level)
    logs.setup(settings.log_level, settings.log_format)
    # Prefect reads its own setting; point it at our server so flow runs are recorded there.
    os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


# --- stack ---------------------------------------------------------------------------------


@stack_app.command("up")
def stack_up(
    ctx: typer.Context,
    workers: Annotated[bool, typer.Option(help="also start one worker per stage")] = True,
) -> None:
    """Fetch (first time) and start the local services, create topics and index, start workers."""
    from newsflow import stack

    settings = _settings(ctx)
    try:
        with console.status("starting Kafka, Elasticsearch and Prefect (first time: downloads)"):
            stack.up(settings)
        init(settings)
    except stack.StackError as exc:
        raise _fail(str(exc)) from exc
    if workers:
        _start_workers(settings, replicas=1)
    _print_status(settings)


@stack_app.command("down")
def stack_down(ctx: typer.Context) -> None:
    """Stop the workers, then the services. Data stays in the stack folder."""
    from newsflow import stack

    settings = _settings(ctx)
    _stop_workers(settings)
    stack.down(settings)
    console.print("stack stopped")


@stack_app.command("status")
def stack_status(ctx: typer.Context) -> None:
    """What runs: services, workers, each stage's lag, documents in the index."""
    _print_status(_settings(ctx))


@stack_app.command("init")
def stack_init(ctx: typer.Context) -> None:
    """Create the topics and the index behind the alias on running services (idempotent)."""
    settings = _settings(ctx)
    init(settings)
    console.print(f"topics {settings.topic_prefix}.* and alias '{settings.es_alias}' ready")


def init(settings: Settings) -> None:
    """Create the topics and the index behind the alias (idempotent)."""
    from newsflow import elastic, kafka_admin

    kafka_admin.ensure_topics(settings)
    elastic.ensure_index(elastic.client(settings), settings)


def _print_status(settings: Settings) -> None:
    from newsflow import elastic, kafka_admin, procs, stack

    table = Table("service", "endpoint", "pid", "healthy", "log", title="services")
    for s in stack.status(settings):
        table.add_row(s.name, s.endpoint, str(s.pid or "-"), "yes" if s.healthy else "NO",
                      str(s.log))
    console.print(table)
    run_dir = _run_dir(settings)
    table = Table("worker", "pid", title="workers")
    for name in procs.names(run_dir):
        if name.startswith("worker-"):
            table.add_row(name, str(procs.pid_of(name, run_dir) or "not running"))
    console.print(table)
    try:
        table = Table("stage", "input topic", "group", "end offset", "committed", "lag",
                      title="stage lag")
        for row in kafka_admin.lag(settings):
            table.add_row(row.stage, row.topic, row.group, str(row.end_offset),
                          str(row.committed), str(row.lag))
        console.print(table)
    except Exception as exc:  # status must still print what it can
        err.print(f"kafka: unavailable ({type(exc).__name__}: {exc})")
    try:
        console.print(f"documents in '{settings.es_alias}': "
                      f"{elastic.count(elastic.client(settings), settings)}")
    except Exception as exc:
        err.print(f"elasticsearch: unavailable ({type(exc).__name__}: {exc})")


# --- workers -------------------------------------------------------------------------------


def _run_dir(settings: Settings) -> Path:
    return settings.stack_dir.resolve() / "run"


def _settings_env(settings: Settings) -> dict[str, str]:
    """The effective settings as environment, so a child process sees what we see."""
    values = settings.model_dump(mode="json")
    return {**os.environ, **{env_var(k): str(v) for k, v in values.items()}}


def _start_workers(settings: Settings, replicas: int) -> None:
    from newsflow import procs

    logs_dir = settings.stack_dir.resolve() / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    for stage in STAGES:
        for n in range(replicas):
            name = f"worker-{stage}-{n}"
            if procs.pid_of(name, _run_dir(settings)):
                continue
            procs.start(name, [sys.executable, "-m", "newsflow", "worker", stage],
                        run_dir=_run_dir(settings), log_path=logs_dir / f"{name}.log",
                        env=_settings_env(settings))
            console.print(f"started {name} (log: {logs_dir / f'{name}.log'})")


def _stop_workers(settings: Settings) -> None:
    from newsflow import procs

    for name in procs.names(_run_dir(settings)):
        if name.startswith("worker-") and procs.stop(name, _run_dir(settings)):
            console.print(f"stopped {name}")


@workers_app.command("start")
def workers_start(
    ctx: typer.Context,
    replicas: Annotated[int, typer.Option(min=1, help="workers per stage")] = 1,
) -> None:
    """Start every stage's worker in the background (logs in the stack folder)."""
    _start_workers(_settings(ctx), replicas)


@workers_app.command("stop")
def workers_stop(ctx: typer.Context) -> None:
    """Stop the background workers (SIGTERM: they finish their batch and commit)."""
    _stop_workers(_settings(ctx))


@app.command()
def worker(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    input: Annotated[Path | None, typer.Option(
        "--input", "-i", help="offline: read the stage's input records from this JSONL file "
        "instead of Kafka")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="offline: write the stage's output records here "
        "(default: stdout)")] = None,
    max_idle: Annotated[float | None, typer.Option(
        help="stop after this many seconds without input")] = None,
) -> None:
    """Run one stage: against Kafka until stopped, or offline over a JSONL file.

    Offline, dead letters and skips are reported on stderr, one JSON object per line.
    """
    if stage not in STAGES:
        raise _fail(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    settings = _settings(ctx)
    spec = STAGES[stage]
    if input is None:
        from workers.runtime import make_worker

        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port)
        make_worker(spec, settings).run(max_idle_seconds=max_idle)
        return

    from workers.runtime import run_offline

    with input.open("rb") as fh:
        results = run_offline(spec, settings, fh)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for r in results:
            if r.kind == "emitted" and r.output is not None:
                out.write(r.output.model_dump_json(exclude_none=True) + "\n")
            else:
                err.print(json.dumps({"line": r.message.offset + 1, "outcome": r.kind,
                                      "id": r.article_id, "reason": r.reason, "error": r.error},
                                     ensure_ascii=False), markup=False, highlight=False)
    finally:
        if output:
            out.close()
    counts = {k: sum(r.kind == k for r in results) for k in ("emitted", "skipped", "dead")}
    err.print(f"{stage}: {counts}", markup=False)


# --- publish & search ----------------------------------------------------------------------


@app.command()
def publish(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="JSONL (.jsonl, .jsonl.gz), .json, or folders of .txt/.html")] = None,
    seeds: Annotated[bool, typer.Option(help="also publish the seed articles")] = False,
    url_prefix: Annotated[str, typer.Option(
        help="URL given to .txt/.html files: prefix + relative path")] = "file:///",
    wait: Annotated[bool, typer.Option(help="wait until the articles are searchable")] = False,
    timeout: Annotated[float, typer.Option(help="how long --wait waits, seconds")] = 180,
    prefect: Annotated[bool, typer.Option(
        help="run as the Prefect 'publish' flow, recorded on the Prefect server")] = True,
) -> None:
    """Publish articles to news.raw, keyed by article id, with a progress bar."""
    from newsflow import publish as pub
    from newsflow.cli_progress import bar
    from newsflow.seeds import SeedError, seed_lines

    settings = _settings(ctx)
    if not paths and not seeds:
        raise _fail("nothing to publish: give PATH(s) or --seeds")
    if prefect:
        from flows.publish import publish_flow

        try:
            report = publish_flow(paths=[str(p) for p in paths or []], seeds=seeds,
                                  url_prefix=url_prefix, settings=settings, show_progress=True)
        except (SeedError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from exc
        ids = list(report["ids"])  # type: ignore[call-overload]
        console.print(f"published {report['published']} to {report['topic']}")
    else:
        try:
            messages = seed_lines(settings.shared_dir) if seeds else []
            for path in paths or []:
                messages.extend(pub.read_messages(path, url_prefix))
        except (SeedError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from exc
        with bar("publishing", len(messages)) as progress:
            result = pub.publish(settings, messages, progress=progress)
        ids = result.ids
        console.print(f"published {result.published} to {result.topic}")
    if wait:
        with bar("searchable", len(set(ids))) as progress:
            found = pub.wait_searchable(settings, ids, timeout, progress)
        if found < len(set(ids)):
            raise _fail(f"only {found} of {len(set(ids))} articles searchable after {timeout}s: "
                        "see `newsflow stack status` and the worker logs")


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="full-text query; '*' for everything")] = "*",
    source: Annotated[str | None, typer.Option(help="only this source domain")] = None,
    language: Annotated[str | None, typer.Option(help="only this language code")] = None,
    country: Annotated[str | None, typer.Option(help="only this ISO 3166 country code")] = None,
    person: Annotated[str | None, typer.Option(help="only articles naming this person")] = None,
    organization: Annotated[str | None, typer.Option(help="only this organisation")] = None,
    location: Annotated[str | None, typer.Option(help="only this location")] = None,
    size: Annotated[int, typer.Option(min=1, max=100, help="hits per page")] = 10,
    page: Annotated[int, typer.Option(min=1, help="page number")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Faceted full-text search: hits with title, source and date; top values of each facet."""
    from newsflow import elastic
    from newsflow.search import search as run_search

    settings = _settings(ctx)
    filters = {k: v for k, v in {"source": source, "language": language, "countries": country,
                                  "persons": person, "organizations": organization,
                                  "locations": location}.items() if v}
    result = run_search(elastic.client(settings), settings.es_alias, query, filters=filters,
                        size=size, page=page)
    if as_json:
        print(json.dumps({"total": result.total, "hits": [asdict(h) for h in result.hits],
                          "facets": result.facets}, ensure_ascii=False, indent=2))
        return
    table = Table("#", "title", "source", "published", title=f"{result.total} hits for {query!r}")
    for n, hit in enumerate(result.hits, start=(page - 1) * size + 1):
        table.add_row(str(n), hit.title or "(untitled)", hit.source or "",
                      (hit.published_at or "")[:10])
    console.print(table)
    for name, buckets in result.facets.items():
        if buckets:
            console.print(f"[bold]{name}[/bold]: " +
                          ", ".join(f"{value} ({count})" for value, count in buckets))


if __name__ == "__main__":
    app()
