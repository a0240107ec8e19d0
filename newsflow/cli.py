"""``newsflow``: the one command for people. Settings are loaded here, once, and passed down.

    newsflow stack up|down|status|init   local Kafka, Elasticsearch, Prefect (+ workers)
    newsflow workers start|stop          the stage workers as background processes
    newsflow deploy                      the stage workers as Prefect deployments
    newsflow worker STAGE                one stage in the foreground (or offline over JSONL)
    newsflow publish PATH...             files into news.raw (through the Prefect flow)
    newsflow search QUERY                faceted full-text search
    newsflow backfill|reenrich|reindex|rollover   history, new stage versions, new mappings
    newsflow audit | dlq list|replay     are the books balanced; dead letters
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from newsflow.config import Settings, load_settings
from workers.runtime import logs
from workers.settings import env_var, settings_env
from workers.topology import STAGES

if TYPE_CHECKING:
    from newsflow.outcomes import OutcomeWatch

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})
stack_app = typer.Typer(help="The local services: Kafka, Elasticsearch, Prefect, CoreNLP, and "
                        "workers.",
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
    corenlp_url: Annotated[str | None, _opt("corenlp_url", "CoreNLP server for English NER "
                                            "[default: http://127.0.0.1:9000]")] = None,
    log_level: Annotated[str | None, _opt("log_level", "Log level [default: INFO]")] = None,
) -> None:
    """newsflow: news articles from Kafka, cleaned, deduplicated, enriched, searchable.

    Every setting can also be given as NEWSFLOW_<SETTING> in the environment or a .env file
    (see newsflow/config.py for all of them); each option below shows its variable.
    """
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, es_url=es_url,
                             prefect_api_url=prefect_api_url, corenlp_url=corenlp_url,
                             log_level=log_level)
    logs.setup(settings.log_level, settings.log_format)
    # Prefect reads its own setting; point it at our server so flow runs are recorded there.
    # A server given to us (--prefect-api-url, NEWSFLOW_PREFECT_API_URL) wins over Prefect's
    # own variable; our default does not.
    if "prefect_api_url" in settings.model_fields_set:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    else:
        os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _fail(message: str) -> typer.Exit:
    # Escaped: messages quote user input and exception text, whose brackets are not markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
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
        with console.status(
            "starting Kafka, Elasticsearch, Prefect and CoreNLP (first time: downloads)"
        ):
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


@stack_app.command("clean")
def stack_clean(ctx: typer.Context) -> None:
    """Stop everything, then delete the stack folder: downloads, data and logs (and the
    Elasticsearch folder under /var/tmp, when a private checkout put it there)."""
    from newsflow import stack

    settings = _settings(ctx)
    _stop_workers(settings)
    for folder in stack.remove(settings):
        console.print(f"removed {folder}")


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
    from workers.io import elastic, kafka_admin

    kafka_admin.ensure_topics(settings)
    elastic.ensure_index(elastic.client(settings), settings)


def _print_status(settings: Settings) -> None:
    from kafka.errors import CoordinatorNotAvailableError

    from newsflow import procs, stack
    from workers.io import elastic, kafka_admin

    table = Table("service", Column("endpoint", no_wrap=True), "pid", "state", title="services")
    services = stack.status(settings)
    for s in services:
        table.add_row(s.name, s.endpoint, str(s.pid or "-"), s.detail)
    console.print(table)
    # Below the table, whole: in a table cell a path is cut to the terminal's width.
    logs = sorted({str(s.log.parent) for s in services})
    console.print(f"service logs: {', '.join(logs)}/<service>.log", soft_wrap=True)
    up = {s.name for s in services if s.healthy}
    run_dir = _run_dir(settings)
    table = Table("worker", "pid", title="workers")
    for name in procs.names(run_dir):
        if name.startswith("worker-"):
            table.add_row(name, str(procs.pid_of(name, run_dir) or "not running"))
    console.print(table)
    # A service that just failed its health check is not asked again: the clients would retry
    # for half a minute and log a traceback per attempt before giving up.
    if "kafka" not in up:
        err.print("kafka: down, stage lag not shown")
    else:
        try:
            table = Table("stage", "input topic", "group", "end offset", "committed", "lag",
                          title="stage lag")
            for row in kafka_admin.lag(settings):
                table.add_row(row.stage, row.topic, row.group, str(row.end_offset),
                              str(row.committed), str(row.lag))
            console.print(table)
        except CoordinatorNotAvailableError:  # normal for some seconds after a first start
            err.print("kafka: stage lag not known yet: the broker's group coordinator is still "
                      "starting (ask again in a few seconds)")
        except Exception as exc:  # status must still print what it can
            err.print(f"kafka: unavailable ({type(exc).__name__}: {exc})", markup=False)
    if "elasticsearch" not in up:
        err.print("elasticsearch: down, document count not shown")
    else:
        try:
            console.print(f"documents in '{settings.es_alias}': "
                          f"{elastic.count(elastic.client(settings), settings)}")
        except Exception as exc:
            err.print(f"elasticsearch: unavailable ({type(exc).__name__}: {exc})", markup=False)


# --- workers -------------------------------------------------------------------------------


def _run_dir(settings: Settings) -> Path:
    return settings.stack_dir.resolve() / "run"


def _settings_env(settings: Settings) -> dict[str, str]:
    """The effective settings as environment, so a child process sees what we see."""
    return {**os.environ, **settings_env(settings)}  # secrets revealed, None left out


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
        "--input", "-i", exists=True, dir_okay=False, readable=True,
        help="offline: read the stage's input records from this JSONL file instead of Kafka")
    ] = None,
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
        from workers.runtime.worker import make_worker

        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port)
        make_worker(spec, settings).run(max_idle_seconds=max_idle)
        return

    from workers.runtime.offline import run_offline

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


def _watch(settings: Settings) -> OutcomeWatch:
    """Started before publishing: outcomes are counted from this moment on."""
    from newsflow.outcomes import OutcomeWatch

    return OutcomeWatch(settings)


def _await_outcomes(watch: OutcomeWatch, identities: list[str], timeout: float) -> None:
    """Wait until each published article has an outcome; print the counts; fail naming the
    articles without one at the timeout."""
    from newsflow.cli_progress import bar

    wanted = sorted(set(identities))
    try:
        with bar("outcomes", len(wanted)) as progress:
            report = watch.wait(wanted, timeout, progress)
        console.print(f"{len(wanted)} articles: {report.counts()} "
                      f"(after {report.seconds:.0f}s)")
        if report.complete:
            return
        urls = watch.urls(report.missing)
    finally:
        watch.close()
    shown = "\n".join(f"  {i}  {urls.get(i, '')}".rstrip() for i in report.missing[:20])
    more = f"\n  ... and {len(report.missing) - 20} more" if len(report.missing) > 20 else ""
    raise _fail(f"{len(report.missing)} of {len(wanted)} articles have no outcome after "
                f"{timeout:g}s (neither indexed, skipped nor dead-lettered):\n{shown}{more}\n"
                "see `newsflow stack status` (stage lag) and the worker logs")


@app.command()
def publish(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="JSONL (.jsonl, .jsonl.gz), .json, or folders of .txt/.html")] = None,
    seeds: Annotated[bool, typer.Option(help="also publish the seed articles")] = False,
    url_prefix: Annotated[str, typer.Option(
        help="URL given to .txt/.html files: prefix + relative path")] = "file:///",
    wait: Annotated[bool, typer.Option(
        help="then wait until every article has an outcome (indexed, skipped with a reason, "
        "or dead-lettered) and print the counts; exit 1 naming those without one")] = False,
    timeout: Annotated[float, typer.Option(help="how long --wait waits, seconds")] = 180,
    prefect: Annotated[bool, typer.Option(
        help="run as the Prefect 'publish' flow, recorded on the Prefect server")] = True,
) -> None:
    """Publish articles to news.raw, keyed by article id, with a progress bar."""
    from flows import publish as pub
    from flows.seeds import SeedError, seed_lines
    from newsflow.cli_progress import bar_for

    settings = _settings(ctx)
    if not paths and not seeds:
        raise _fail("nothing to publish: give PATH(s) or --seeds")
    watch = _watch(settings) if wait else None
    if prefect:
        from flows.publish import publish_flow

        try:
            with bar_for("publishing") as progress:
                report = publish_flow(paths=[str(p) for p in paths or []], seeds=seeds,
                                      url_prefix=url_prefix, settings=settings,
                                      progress=progress)
        except (SeedError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from exc
        ids = [*report["ids"], *report["unkeyed"]]  # type: ignore[misc]
        console.print(f"published {report['published']} to {report['topic']}")
    else:
        try:
            messages = seed_lines(settings.shared_dir) if seeds else []
            for path in paths or []:
                messages.extend(pub.read_messages(path, url_prefix))
        except (SeedError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from exc
        with bar_for("publishing") as progress:
            result = pub.publish(settings, messages, progress=progress, total=len(messages))
        ids = [*result.ids, *result.unkeyed]
        console.print(f"published {result.published} to {result.topic}")
    if watch:
        _await_outcomes(watch, ids, timeout)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(
        help='full-text query ("quoted phrase", -exclude, a | b); \'*\' for everything')] = "*",
    source: Annotated[str | None, typer.Option(help="only this source")] = None,
    since: Annotated[str | None, typer.Option(
        "--from", help="published on or after this date (YYYY-MM-DD or ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(
        "--to", help="published on or before this date (a date: the whole day)")] = None,
    entity: Annotated[str | None, typer.Option(
        help="only articles naming this person, organisation or location (aliases too)")] = None,
    country: Annotated[str | None, typer.Option(
        help="only this country: ISO 3166 code or name")] = None,
    language: Annotated[str | None, typer.Option(help="only this language code")] = None,
    person: Annotated[str | None, typer.Option(help="only articles naming this person")] = None,
    organization: Annotated[str | None, typer.Option(help="only this organisation")] = None,
    location: Annotated[str | None, typer.Option(help="only this location")] = None,
    collapse: Annotated[bool, typer.Option(
        help="each story once (collapsed on cluster_id), with how many outlets ran it")] = False,
    size: Annotated[int, typer.Option(min=1, max=100, help="hits per page")] = 10,
    page: Annotated[int, typer.Option(min=1, help="page number")] = 1,
    facets: Annotated[int, typer.Option(min=1, max=100, help="values shown per facet")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Faceted full-text search: hits with highlighted snippets; top values of each facet and
    a timeline. The Python API is newsflow.search.search."""
    from datetime import date, datetime

    from newsflow.search import Filters, print_result
    from newsflow.search import search as run_search
    from workers.io import elastic

    def when(value: str | None, option: str) -> date | datetime | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value) if len(value) == 10 else \
                datetime.fromisoformat(value)
        except ValueError as exc:
            raise _fail(f"{option}: not a date (YYYY-MM-DD or ISO 8601): {value!r}") from exc

    settings = _settings(ctx)
    filters = Filters(source=source, language=language, country=country, entity=entity,
                      person=person, organization=organization, location=location,
                      since=when(since, "--from"), until=when(until, "--to"))
    result = run_search(elastic.client(settings), settings.es_alias, query, filters=filters,
                        size=size, page=page, facet_size=facets, collapse=collapse)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_result(result, console)


@app.command()
def rollover(
    ctx: typer.Context,
    max_age: Annotated[str, typer.Option(help="roll over when the write index is this old")]
    = "30d",
    max_size: Annotated[str, typer.Option(help="... or its primary shard this big")] = "10gb",
    max_docs: Annotated[int, typer.Option(help="... or it holds this many articles")]
    = 10_000_000,
    force: Annotated[bool, typer.Option(help="roll over now, whatever the conditions")] = False,
    dry_run: Annotated[bool, typer.Option(help="only say whether it would roll over")] = False,
) -> None:
    """Start a new index generation behind the alias when the current one is old or big
    (the ILM policy's hot phase, for nodes without ILM; run it daily). Searches see all."""
    from workers.io import elastic

    settings = _settings(ctx)
    es = elastic.client(settings)
    try:
        result = elastic.rollover(es, settings, max_age=max_age, max_primary_shard_size=max_size,
                                  max_docs=max_docs, dry_run=dry_run, force=force)
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    # Elasticsearch names a condition "[max_age: 30d]"; brackets would be rich markup.
    met = ", ".join(f"{c.strip('[]')} {'met' if ok else 'not met'}"
                    for c, ok in result.conditions.items())
    verb = ("would roll over" if result.dry_run else "rolled over") if result.rolled_over or \
        (result.dry_run and any(result.conditions.values())) else "no rollover"
    console.print(f"{verb}: {result.old_index} -> {result.new_index}" + (f" ({met})" if met
                                                                          else ""))
    console.print(f"'{settings.es_alias}' spans: " +
                  ", ".join(sorted(es.indices.get_alias(name=settings.es_alias))))



# --- audit & dead letters (issue 6) ----------------------------------------------------------

dlq_app = typer.Typer(help="The dead-letter topic: list and replay.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
_DLQ_STAGE = typer.Option(help=f"only dead letters of this stage ({', '.join(STAGES)})")
_DLQ_REASON = typer.Option(help="only this reason (not-json, invalid, too-large, ...)")
_DLQ_SINCE = typer.Option(help="only dead-lettered at or after this time (UTC if no zone)")
_DLQ_UNTIL = typer.Option(help="only dead-lettered before this time (UTC if no zone)")


@app.command()
def audit(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
    reconcile: Annotated[bool, typer.Option(
        help="read the raw, dead-letter and skip topics whole and check that every input "
        "ended indexed, skipped or dead-lettered")] = True,
) -> None:
    """Offsets and lag per topic and group, dead letters, skips, documents; do the books balance?

    Exits 1 when the reconciliation finds inputs without an outcome (or documents without an
    input): while workers are still busy that is the work in flight."""
    from newsflow.audit import audit as run_audit

    result = run_audit(_settings(ctx), reconcile=reconcile)
    rec = result.reconciliation
    if as_json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        table = Table("topic", "end offset", title="topics")
        for topic, end in result.topics.items():
            table.add_row(topic, str(end))
        console.print(table)
        table = Table("stage", "group", "input topic", "committed", "lag", title="groups")
        for g in result.groups:
            table.add_row(g.stage, g.group, g.topic, str(g.committed), str(g.lag))
        console.print(table)
        table = Table("stage", "reason", "dead letters", title=(
            f"dead letters ({result.dead_letter_records} records)"))
        for stage, reasons in result.dead_letters.items():
            for reason, n in sorted(reasons.items()):
                table.add_row(stage, reason, str(n))
        console.print(table)
        table = Table("stage/reason", "skipped", title="skips")
        for key, n in sorted(result.skips.items()):
            table.add_row(key, str(n))
        console.print(table)
        console.print(f"documents: {result.documents}")
        if rec is not None:
            console.print(
                f"raw messages {rec.raw_messages}, distinct inputs {rec.distinct_inputs} = "
                f"indexed {rec.indexed} + skipped {rec.skipped} + dead-lettered "
                f"{rec.dead_lettered}; missing {rec.missing_count}, unexpected "
                f"{rec.unexpected_count}, recovered by replay {rec.recovered}: "
                + ("[green]balanced[/green]" if rec.balanced else "[red]NOT balanced[/red]"))
            for ident in rec.missing[:10]:
                console.print(f"  missing: {ident}")
    if rec is not None and not rec.balanced:
        raise typer.Exit(1)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    stage: Annotated[str | None, _DLQ_STAGE] = None,
    reason: Annotated[str | None, _DLQ_REASON] = None,
    since: Annotated[datetime | None, _DLQ_SINCE] = None,
    until: Annotated[datetime | None, _DLQ_UNTIL] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Dead letters: when, which stage, why, where from, after how many attempts."""
    from workers.io.dead_letters import list_dead

    dead = list_dead(_settings(ctx), stage=stage, reason=reason, since=since, until=until)
    if as_json:
        for d in dead:
            print(json.dumps(d.summary(), ensure_ascii=False))
        return
    table = Table("ref", "at", "stage", "reason", "attempts", "source", "id", "error",
                  title=f"{len(dead)} dead letters")
    for d in dead:
        table.add_row(d.ref, d.at.strftime("%Y-%m-%d %H:%M:%S"), d.stage, d.reason,
                      str(d.attempts), d.source, d.article_id or "", d.error[:80])
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    stage: Annotated[str | None, _DLQ_STAGE] = None,
    reason: Annotated[str | None, _DLQ_REASON] = None,
    since: Annotated[datetime | None, _DLQ_SINCE] = None,
    until: Annotated[datetime | None, _DLQ_UNTIL] = None,
    dry_run: Annotated[bool, typer.Option(help="only show what would be replayed")] = False,
) -> None:
    """Re-publish dead letters' original bytes to their stage's input topic, once each."""
    from flows.replay_dlq import replay

    settings = _settings(ctx)
    report = replay(settings, stage=stage, reason=reason, since=since, until=until,
                        dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    counts = ", ".join(f"{n} to {t}" for t, n in report.by_topic(settings).items()) or "nothing"
    console.print(f"{verb} {len(report.replayed)} ({counts}); {report.already} replayed before")
    if report.unknown_stage:
        err.print(f"{len(report.unknown_stage)} dead letters name no known stage: left alone")


# --- Prefect operations: deploy, backfill, reindex (issue 7) ---------------------------------


def _utc(when: datetime | None) -> datetime | None:
    return when if when is None or when.tzinfo else when.replace(tzinfo=UTC)


@app.command()
def deploy(
    ctx: typer.Context,
    replicas: Annotated[int, typer.Option(min=0, help="flow runs (replicas) per stage")] = 1,
    stage: Annotated[list[str] | None, typer.Option(
        help="only scale this stage (repeatable); default: every stage")] = None,
) -> None:
    """Register every deployment on Prefect, serve them, and keep N runs of each stage.

    Starts (once) the background process serving the deployments (log in the stack folder);
    run again to scale: --replicas 3 --stage entities.
    """
    from flows import deploy as dep
    from newsflow import procs

    settings = _settings(ctx)
    for name in stage or []:
        if name not in STAGES:
            raise _fail(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    proc_name = f"worker-prefect-{settings.topic_prefix}"
    log_path = settings.stack_dir.resolve() / "logs" / f"{proc_name}.log"
    if procs.pid_of(proc_name, _run_dir(settings)) is None:
        procs.start(proc_name, [sys.executable, "-m", "flows.deploy"], run_dir=_run_dir(settings),
                    log_path=log_path, env={**_settings_env(settings),
                                            "PREFECT_API_URL": settings.prefect_api_url},
                    cwd=Path(__file__).resolve().parents[1])
        console.print(f"serving deployments (log: {log_path})")
    try:
        with console.status("waiting for the deployments"):
            counts = dep.ensure_replicas(settings, replicas, stage)
    except TimeoutError as exc:
        raise _fail(str(exc)) from exc
    table = Table("deployment", "runs", title=f"deployments on {settings.prefect_api_url}")
    for what, name in dep.full_names(settings).items():
        table.add_row(name, str(counts.get(what, "on demand")))
    console.print(table)


@app.command()
def backfill(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="archives: JSONL (.jsonl, .jsonl.gz; raw articles, Reuters-21578 or BBC News "
        "records), .json, folders of .txt/.html")] = None,
    since: Annotated[datetime | None, typer.Option(
        help="only articles published at or after this time (UTC if no zone); with --kafka: "
        "messages written at or after it")] = None,
    until: Annotated[datetime | None, typer.Option(help="... and before this time")] = None,
    source: Annotated[list[str] | None, typer.Option(
        help="only this source (repeatable), e.g. 'Reuters newswire (1987)'")] = None,
    kafka: Annotated[bool, typer.Option(
        help="re-run the news.raw messages between --since and --until")] = False,
    rate: Annotated[float, typer.Option(
        help="messages a second at most (0 = unlimited), so live traffic keeps flowing")] = 200,
    batch_size: Annotated[int, typer.Option(min=1, help="messages per checkpointed batch")] = 100,
    checkpoint: Annotated[Path | None, typer.Option(
        help="checkpoint file [default: <stack dir>/backfill/<hash of the arguments>.json]")
    ] = None,
    restart: Annotated[bool, typer.Option(help="forget the checkpoint, start over")] = False,
    url_prefix: Annotated[str, typer.Option(help="URL prefix of .txt/.html files")] = "file:///",
    wait: Annotated[bool, typer.Option(
        help="then wait until every article published has an outcome (indexed, skipped with "
        "a reason, or dead-lettered) and print the counts; exit 1 naming those without one")
    ] = False,
    timeout: Annotated[float, typer.Option(help="how long --wait waits, seconds")] = 600,
) -> None:
    """Re-process history into the index (the Prefect flow 'backfill'), resumably.

    Interrupted, the same command continues from its checkpoint.
    """
    from flows.backfill import backfill_flow
    from newsflow.cli_progress import bar_for

    settings = _settings(ctx)
    if not kafka and not paths:
        raise _fail("give archive PATH(s), or --kafka with --since")
    if kafka and since is None:
        raise _fail("--kafka needs --since")
    watch = _watch(settings) if wait else None
    try:
        with bar_for("backfill") as progress:
            report = backfill_flow(
                paths=[str(p) for p in paths or []], since=_utc(since), until=_utc(until),
                sources=source or None, kafka=kafka, url_prefix=url_prefix,
                rate=rate or None, batch_size=batch_size,
                checkpoint=str(checkpoint) if checkpoint else None, restart=restart,
                settings=settings, progress=progress)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{'resumed' if report['resumed'] else 'backfill'}: published "
                  f"{report['published_now']} now, {report['published']} of {report['total']} "
                  f"in total to {report['topic']} (checkpoint {report['checkpoint']})")
    if watch:
        _await_outcomes(watch, [*report["ids"], *report["unkeyed"]], timeout)


@app.command()
def reindex(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Option(
        help="mapping version (schemas/es/news-v<N>.json) [default: the newest]")] = None,
    drop_old: Annotated[bool, typer.Option(
        help="instead: delete the indices the alias no longer points at")] = False,
) -> None:
    """Fill the next index version, check counts, swap the alias atomically (flow 'reindex')."""
    from flows.reindex import reindex_flow

    try:
        result = reindex_flow(version=version, drop_old=drop_old, settings=_settings(ctx))
    except (ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from exc
    if drop_old:
        console.print(f"dropped: {', '.join(result['dropped']) or 'nothing'}")
    else:
        console.print(f"{', '.join(result['old'])} -> {result['new']}: {result['new_count']} "
                      f"documents ({result['caught_up']} caught up from live writes); alias "
                      "swapped; old index kept until `newsflow reindex --drop-old`")


@app.command()
def reenrich(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="full-text query [default: all]")] = None,
    since: Annotated[datetime | None, typer.Option(help="published at or after")] = None,
    until: Annotated[datetime | None, typer.Option(help="published before")] = None,
    source: Annotated[list[str] | None, typer.Option(help="only these sources (repeat)")] = None,
    dry_run: Annotated[bool, typer.Option(help="count only, publish nothing")] = False,
) -> None:
    """Re-run only the stages whose version changed, for the chosen documents (flow 'reenrich').

    For each document, the first stage whose recorded version differs from the code's is fed
    again from the index; the running workers redo it and the stages after it.
    """
    from flows.reenrich import reenrich_flow

    result = reenrich_flow(query=query, since=_utc(since), until=_utc(until),
                           sources=source or None, dry_run=dry_run, settings=_settings(ctx))
    console.print(f"{result['selected']} selected, {result['up_to_date']} up to date; "
                  f"re-run from: {result['republished'] or 'no stage'}"
                  f"{' (dry run)' if dry_run else ''}")


def _explain(error: Exception) -> str | None:
    """One line for the errors a user causes or can fix (a service down, a topic missing);
    None for the rest, which keep their traceback."""
    from elastic_transport import ConnectionError as EsConnectionError
    from elastic_transport import ConnectionTimeout as EsConnectionTimeout
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from workers.io.kafka_admin import MissingTopicError

    name, text = type(error).__name__, str(error)
    cause = text if text.startswith(name) else f"{name}: {text}"  # kafka's name themselves
    hint = ("\nIs it running? `newsflow stack status` shows what runs; `newsflow stack up` "
            "starts the local stack.")
    if isinstance(error, EsConnectionError | EsConnectionTimeout):
        return f"cannot reach Elasticsearch: {cause}{hint}"
    if isinstance(error, KafkaConnectionError) or (
        isinstance(error, KafkaTimeoutError) and "bootstrap" in text
    ):
        return f"cannot reach Kafka: {cause}{hint}"
    if isinstance(error, MissingTopicError):
        return text
    # Prefect's client raises a bare RuntimeError, the connection error as its cause.
    if isinstance(error, RuntimeError) and text.startswith("Failed to reach API at"):
        why = error.__cause__
        detail = f" ({type(why).__name__}: {why})" if why else ""
        return (f"cannot reach Prefect: {error}{detail}{hint} `newsflow publish --no-prefect` "
                "publishes without recording a flow run.")
    return None


def run() -> None:
    """The ``newsflow`` command: an error the user can fix (a service down, a topic missing)
    is one line and exit code 1, not a traceback; every other error keeps its traceback."""
    try:
        app(prog_name="newsflow")
    except Exception as error:
        message = _explain(error)
        if message is None:
            raise
        raise SystemExit(_fail(message).exit_code) from None


if __name__ == "__main__":
    run()
