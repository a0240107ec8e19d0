"""Prefect flow ``reindex``: the next index version from the newest mapping file, filled,
counted, and swapped in behind the alias atomically; ``drop_old=True`` (a separate run, once
you are content with the new index) deletes the indices the alias left behind.

Thin: the work is ``newsflow.orchestrate.reindex``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from newsflow import elastic, orchestrate
from newsflow.config import Settings, load_settings


@flow(name="reindex")
def reindex_flow(
    version: int | None = None, drop_old: bool = False, settings: Settings | None = None
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    es = elastic.client(settings)
    if drop_old:
        dropped = orchestrate.drop_old_indices(es, settings)
        logger.info("dropped %s", ", ".join(dropped) or "nothing")
        return {"dropped": dropped}
    report = orchestrate.reindex(
        es, settings, version,
        progress=lambda done, total: logger.info("copied %d of %s", done, total))
    logger.info("%s -> %s: %d copied, %d caught up, counts %d -> %d, alias %s",
                ",".join(report.old), report.new, report.copied, report.caught_up,
                report.old_count, report.new_count,
                "swapped" if report.swapped else "NOT swapped (count check failed)")
    if not report.swapped:
        raise RuntimeError(f"{report.new} has {report.new_count} documents, fewer than "
                           f"{report.old_count}: the alias still points at {report.old}")
    return {"old": report.old, "new": report.new, "copied": report.copied,
            "caught_up": report.caught_up, "old_count": report.old_count,
            "new_count": report.new_count, "swapped": report.swapped}
