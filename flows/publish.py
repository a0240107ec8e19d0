"""Prefect flow ``publish``: files (JSONL, gzip, a folder of .txt/.html) or the seeds into
``news.raw``. Thin: the work is ``newsflow.publish``; this adds Prefect's run record and logs."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from newsflow import publish as pub
from newsflow.config import Settings, load_settings
from newsflow.seeds import seed_lines


@flow(name="publish", log_prints=True)
def publish_flow(
    paths: list[str] | None = None,
    seeds: bool = False,
    url_prefix: str = "file:///",
    settings: Settings | None = None,
    show_progress: bool = False,
) -> dict[str, object]:
    settings = settings or load_settings()
    logger = get_run_logger()
    messages: list[bytes] = seed_lines(settings.shared_dir) if seeds else []
    for path in paths or []:
        messages.extend(pub.read_messages(Path(path), url_prefix))
    logger.info("publishing %d messages to %s", len(messages), settings.topic("raw"))
    progress = None
    if show_progress:
        from newsflow.cli_progress import bar

        with bar("publishing", len(messages)) as progress:
            report = pub.publish(settings, messages, progress=progress)
    else:
        report = pub.publish(settings, messages)
    logger.info("published %d messages (%d with a URL)", report.published, len(report.ids))
    return {"topic": report.topic, "published": report.published, "ids": report.ids,
            "unkeyed": report.unkeyed}
