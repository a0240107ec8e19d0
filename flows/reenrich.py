"""Prefect flow ``reenrich``: re-run only the stages whose version changed, for a chosen set
(full-text query, published date range, sources). Thin: the work is ``newsflow.reenrich``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from newsflow import elastic
from newsflow import reenrich as re_
from newsflow.config import Settings, load_settings


@flow(name="reenrich")
def reenrich_flow(
    query: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: list[str] | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    es = elastic.client(settings)
    selected = re_.selection(query, since, until, sources)
    logger.info("reenrich: %d documents selected; current versions %s",
                re_.count(es, settings, selected), re_.current_versions())
    report = re_.reenrich(es, settings, selected, dry_run=dry_run)
    logger.info("reenrich: %d up to date, re-run from %s%s", report.up_to_date,
                report.republished or "no stage", " (dry run)" if dry_run else "")
    return {"selected": report.selected, "up_to_date": report.up_to_date,
            "republished": report.republished}
