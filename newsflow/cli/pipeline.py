"""The commands that put articles through the pipeline or change what it runs on:
``publish``, ``backfill``, ``reenrich``, ``reindex``, ``rollover``, ``deploy``.

Each is a thin front for a Prefect flow (``flows/``) or an index operation
(``workers.io.elastic``): arguments in, a progress bar while it works, one summary line out.
``--wait`` then waits until every article published has an outcome (indexed, skipped or
dead-lettered).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from newsflow.cli.common import console, fail, settings_of
from newsflow.config import Settings
from workers.topology import STAGES

if TYPE_CHECKING:
    from newsflow.outcomes import OutcomeWatch

REPO = Path(__file__).resolve().parents[2]  # `deploy`: the runs load flows/ from the checkout


def _watch(settings: Settings) -> OutcomeWatch:
    """Started before publishing: outcomes are counted from this moment on."""
    from newsflow.outcomes import OutcomeWatch

    return OutcomeWatch(settings)


def _await_outcomes(watch: OutcomeWatch, identities: list[str], timeout: float) -> None:
    """Wait until each published article has an outcome; print the counts; fail naming the
    articles without one at the timeout."""
    from newsflow.cli.progress import bar

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
    raise fail(f"{len(report.missing)} of {len(wanted)} articles have no outcome after "
               f"{timeout:g}s (neither indexed, skipped nor dead-lettered):\n{shown}{more}\n"
               "see `newsflow stack status` (stage lag) and the worker logs")


def _utc(when: datetime | None) -> datetime | None:
    return when if when is None or when.tzinfo else when.replace(tzinfo=UTC)


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
    from newsflow.cli.progress import bar_for

    settings = settings_of(ctx)
    if not paths and not seeds:
        raise fail("nothing to publish: give PATH(s) or --seeds")
    watch = _watch(settings) if wait else None
    if prefect:
        from flows.publish import publish_flow

        try:
            with bar_for("publishing") as progress:
                report = publish_flow(paths=[str(p) for p in paths or []], seeds=seeds,
                                      url_prefix=url_prefix, settings=settings,
                                      progress=progress)
        except (SeedError, FileNotFoundError) as exc:
            raise fail(str(exc)) from exc
        ids = [*report["ids"], *report["unkeyed"]]  # type: ignore[misc]
        console.print(f"published {report['published']} to {report['topic']}")
    else:
        try:
            messages = seed_lines(settings.shared_dir) if seeds else []
            for path in paths or []:
                messages.extend(pub.read_messages(path, url_prefix))
        except (SeedError, FileNotFoundError) as exc:
            raise fail(str(exc)) from exc
        with bar_for("publishing") as progress:
            result = pub.publish(settings, messages, progress=progress, total=len(messages))
        ids = [*result.ids, *result.unkeyed]
        console.print(f"published {result.published} to {result.topic}")
    if watch:
        _await_outcomes(watch, ids, timeout)


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

    settings = settings_of(ctx)
    es = elastic.client(settings)
    try:
        result = elastic.rollover(es, settings, max_age=max_age, max_primary_shard_size=max_size,
                                  max_docs=max_docs, dry_run=dry_run, force=force)
    except (LookupError, ValueError) as exc:
        raise fail(str(exc)) from exc
    # Elasticsearch names a condition "[max_age: 30d]"; brackets would be rich markup.
    met = ", ".join(f"{c.strip('[]')} {'met' if ok else 'not met'}"
                    for c, ok in result.conditions.items())
    verb = ("would roll over" if result.dry_run else "rolled over") if result.rolled_over or \
        (result.dry_run and any(result.conditions.values())) else "no rollover"
    console.print(f"{verb}: {result.old_index} -> {result.new_index}" + (f" ({met})" if met
                                                                          else ""))
    console.print(f"'{settings.es_alias}' spans: " +
                  ", ".join(sorted(es.indices.get_alias(name=settings.es_alias))))


def deploy(
    ctx: typer.Context,
    replicas: Annotated[int, typer.Option(min=0, help="flow runs (replicas) per stage")] = 1,
    stage: Annotated[list[str] | None, typer.Option(
        help="only scale this stage (repeatable); default: every stage")] = None,
    timeout: Annotated[float, typer.Option(
        help="how long to wait for the runs to start, seconds")] = 300,
) -> None:
    """Apply every deployment to the work pool and keep N runs of each stage on the hosts.

    Creates the pool if missing; when no Prefect worker of the pool is online, starts the
    local stack's (one per host, log in the stack folder). A supervisor run per host then keeps
    the replicas, replacing the runs of a lost host. Run again to scale: --replicas 3 --stage
    entities.
    """
    settings = settings_of(ctx)
    for name in stage or []:
        if name not in STAGES:
            raise fail(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    deploy_stages(settings, replicas, stage, timeout)


def deploy_stages(settings: Settings, replicas: int, stages: list[str] | None = None,
                  timeout: float = 300) -> None:
    """What ``newsflow deploy`` does (also ``stack up --nodes N``): the deployments applied,
    the hosts' Prefect workers running, ``replicas`` runs of each of ``stages`` placed and
    started; prints where they run."""
    from flows import deploy as dep
    from flows import pool
    from flows import replicas as rep
    from newsflow.stack import cluster, prefect_workers, processes
    from newsflow.stack.paths import Paths

    # Before the work pool, `deploy` served the same deployment names from one process: it
    # would claim the pool's runs too.
    old = f"worker-prefect-{settings.topic_prefix}"
    if processes.stop(old, Paths.of(settings).run):
        console.print(f"stopped {old}, the process that served the deployments before")
    with console.status(f"applying the deployments to work pool {settings.work_pool}"):
        dep.apply_deployments(settings, source=REPO)
    if settings.work_pool_type != "process":
        # On Kubernetes the stage workers are the chart's Deployments, scaled on lag by KEDA
        # and replaced by Kubernetes (docs/kubernetes.md); the pool runs the operator flows.
        console.print(f"deployments applied to work pool {settings.work_pool} "
                      f"({settings.work_pool_type}): operator flows run from it; the stage "
                      "workers are the chart's Deployments (KEDA scales them on lag)")
        return
    if not pool.online_hosts(settings) and settings.work_pool_type == "process":
        # The local stack's hosts (one unless `stack up --nodes N`); a cluster runs its own.
        prefect_workers.start_hosts(settings, cluster.recorded_nodes(settings))
    # Every local host's worker online first, so that the replicas spread over all of them.
    expected = max(1, len(prefect_workers.running_hosts(settings)))
    deadline = time.monotonic() + timeout
    try:
        with console.status("waiting for the Prefect workers of the pool to come online"):
            while len(pool.online_hosts(settings)) < expected:
                if time.monotonic() > deadline:
                    raise pool.NoWorkerOnlineError(
                        f"no worker of pool {settings.work_pool} online after {timeout:g}s "
                        "(see .stack/logs/prefect-worker-1.log)")
                time.sleep(1)
        rep.ensure_replicas(settings, replicas, stages)
        wanted = rep.desired_replicas(settings)
        with console.status("waiting for the stage runs to start"):
            while True:
                running = rep.running_placement(settings)
                if all(sum(running[s].values()) == n for s, n in wanted.items() if s in running):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stage runs not all running after {timeout:g}s: "
                                       f"{running} of {wanted}; see the worker's log")
                time.sleep(2)
    except (pool.NoWorkerOnlineError, TimeoutError) as exc:
        raise fail(str(exc)) from exc
    table = Table("deployment", "runs", "hosts (runs)",
                  title=f"deployments on pool {settings.work_pool} ({settings.prefect_api_url})")
    for what, name in dep.full_names(settings).items():
        hosts = running.get(what, {})
        table.add_row(name, str(wanted[what]) if what in wanted else
                      "one per host" if what == dep.SUPERVISOR else
                      f"on demand, cron {settings.rollover_schedule}" if what == "rollover"
                      else "on demand",
                      ", ".join(f"host {h}: {n}" for h, n in sorted(hosts.items())))
    console.print(table)


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
    from newsflow.cli.progress import bar_for

    settings = settings_of(ctx)
    if not kafka and not paths:
        raise fail("give archive PATH(s), or --kafka with --since")
    if kafka and since is None:
        raise fail("--kafka needs --since")
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
        raise fail(str(exc)) from exc
    console.print(f"{'resumed' if report['resumed'] else 'backfill'}: published "
                  f"{report['published_now']} now, {report['published']} of {report['total']} "
                  f"in total to {report['topic']} (checkpoint {report['checkpoint']})")
    if watch:
        _await_outcomes(watch, [*report["ids"], *report["unkeyed"]], timeout)


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
        result = reindex_flow(version=version, drop_old=drop_old, settings=settings_of(ctx))
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from exc
    if drop_old:
        console.print(f"dropped: {', '.join(result['dropped']) or 'nothing'}")
    else:
        console.print(f"{', '.join(result['old'])} -> {result['new']}: {result['new_count']} "
                      f"documents ({result['caught_up']} caught up from live writes); alias "
                      "swapped; old index kept until `newsflow reindex --drop-old`")


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
                           sources=source or None, dry_run=dry_run, settings=settings_of(ctx))
    console.print(f"{result['selected']} selected, {result['up_to_date']} up to date; "
                  f"re-run from: {result['republished'] or 'no stage'}"
                  f"{' (dry run)' if dry_run else ''}")
