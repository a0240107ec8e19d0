"""Prefect flow ``backfill``: history re-run through the pipeline, resumably.

From archives (``paths``: JSONL, gzip, folders of .txt/.html, the shared corpora's formats)
filtered by date range and source, or from Kafka (``kafka_since``/``kafka_until``: the
``news.raw`` messages in that time range). Thin: the work is ``newsflow.orchestrate``; this
adds the run record, logs and a progress artifact (key ``backfill-progress``) in the UI.
Running it again with the same arguments continues from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from newsflow import orchestrate
from newsflow.config import Settings, load_settings


@flow(name="backfill")
def backfill_flow(
    paths: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: list[str] | None = None,
    kafka: bool = False,
    url_prefix: str = "file:///",
    rate: float | None = 200.0,
    batch_size: int = 100,
    checkpoint: str | None = None,
    restart: bool = False,
    stop_after: int | None = None,
    settings: Settings | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    # A UUID (called sync here; its type also allows a coroutine).
    artifact: Any = create_progress_artifact(progress=0.0, key="backfill-progress",
                                             description="records published / selected")
    logged = [0]
    cli = ExitStack()  # the CLI's progress bar, opened at the first report (total known then)
    advance: list[Callable[[int], None]] = []

    def progress(done: int, total: int | None) -> None:
        if total:
            update_progress_artifact(artifact, progress=100.0 * done / total)
        if done - logged[0] >= 1000 or done == total:
            logger.info("backfill: %d of %s published", done, total)
            logged[0] = done
        if show_progress:
            if not advance:
                from newsflow.cli_progress import bar

                advance.append(cli.enter_context(bar("backfill", total)))
                advance[0](done)  # a resumed backfill starts where it stopped
                logged.append(done)
            else:
                advance[0](done - logged[1])
                logged[1] = done

    common: dict[str, Any] = {
        "rate": rate, "batch_size": batch_size, "restart": restart, "progress": progress,
        "stop_after": stop_after, "checkpoint_file": Path(checkpoint) if checkpoint else None}
    with cli:
        if kafka:
            if since is None:
                raise ValueError("a Kafka backfill needs 'since'")
            report = orchestrate.backfill_kafka(settings, since, until, **common)
        elif paths:
            report = orchestrate.backfill_archives(
                settings, [Path(p) for p in paths], since=since, until=until, sources=sources,
                url_prefix=url_prefix, **common)
        else:
            raise ValueError("give archive paths, or kafka=True with a time range")
    logger.info("backfill %s: %d published now, %d of %s in total (checkpoint %s)",
                "resumed" if report.resumed else "started", report.published_now,
                report.published, report.total, report.checkpoint)
    return {"published": report.published, "published_now": report.published_now,
            "total": report.total, "resumed": report.resumed, "ids": report.ids,
            "unkeyed": report.unkeyed,
            "checkpoint": str(report.checkpoint), "topic": settings.topic("raw")}
