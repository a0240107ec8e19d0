"""Prefect flow ``reenrich``: re-run only the stages whose version changed, for a chosen set
of documents (full-text query, published date range, sources).

Every document records the version of each stage that produced it (``versions.<stage>``). For
each selected document this finds the first stage, in pipeline order, whose current version
(``workers/topology.py``) differs from the recorded one, rebuilds that stage's
input message from the document, and publishes it to the stage's input topic. The running
workers then redo that stage and the ones after it (each later stage consumes the earlier
one's new output); the stages before it are not run again. The document is overwritten in
place (same ``_id``).

Rebuilding inputs from the index: ``clean``'s input is the cleaned text republished as
``text`` (the original HTML is not kept in the index); ``entities`` needs the dedup
``text_hash``, recomputed with dedup's own function (dedup's version is unchanged then, so it
is the same value).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from prefect import flow, get_run_logger

from flows.progress import Progress
from flows.publish import publish_to
from flows.settings import FlowSettings, load_settings
from workers.io import elastic
from workers.settings import WorkerSettings
from workers.topology import STAGES, current_versions

log = logging.getLogger(__name__)


def first_stale_stage(recorded: dict[str, str], current: dict[str, str]) -> str | None:
    """The first stage, in pipeline order, whose recorded version is not the current one."""
    return next((s for s in STAGES if recorded.get(s) != current[s]), None)


def selection(query: str | None = None, since: datetime | None = None,
              until: datetime | None = None, sources: list[str] | None = None
              ) -> dict[str, Any]:
    """The Elasticsearch query for the chosen set: full text, published range, sources."""
    filters: list[dict[str, Any]] = []
    if since or until:
        rng = {k: v.isoformat() for k, v in (("gte", since), ("lt", until)) if v}
        filters.append({"range": {"published_at": rng}})
    if sources:
        filters.append({"terms": {"source": sources}})
    must = [{"simple_query_string": {"query": query, "fields": ["title", "body"],
                                     "default_operator": "and"}}] if query else []
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


def input_for(stage: str, doc: dict[str, Any]) -> bytes:
    """The message ``stage`` consumes, rebuilt from an indexed document."""
    spec = STAGES[stage]
    if stage == "clean":
        record = {k: doc.get(k) for k in ("url", "title", "source", "published_at", "language")}
        record.update(text=doc["body"], metadata=doc.get("metadata") or {})
        model = spec.input_model.model_validate({k: v for k, v in record.items() if v is not None})
    else:
        data = dict(doc)
        if "text_hash" in spec.input_model.model_fields and "text_hash" not in data:
            from workers.dedup.fingerprint import article_text, text_hash, tokens

            data["text_hash"] = text_hash(tokens(article_text(doc.get("title"), doc["body"])))
        wanted = set(spec.input_model.model_fields)
        model = spec.input_model.model_validate({k: v for k, v in data.items() if k in wanted})
    return model.model_dump_json(exclude_none=True).encode()


@dataclass
class ReenrichReport:
    selected: int = 0
    up_to_date: int = 0
    republished: dict[str, int] = field(default_factory=dict)  # stage -> documents sent to it


def _stale_docs(es: Elasticsearch, settings: WorkerSettings, query: dict[str, Any]
                ) -> Iterator[dict[str, Any]]:
    for hit in scan(es, index=settings.es_alias, query={"query": query}, size=500):
        yield hit["_source"]


def reenrich(es: Elasticsearch, settings: WorkerSettings, query: dict[str, Any], *,
             dry_run: bool = False, progress: Progress | None = None
             ) -> ReenrichReport:
    # Select from every write acknowledged so far, not from the last periodic refresh (1 s):
    # otherwise a run right after another one re-sends documents it has just redone.
    es.indices.refresh(index=settings.es_alias, ignore_unavailable=True)
    current = current_versions()
    report = ReenrichReport()
    batches: dict[str, list[tuple[bytes, bytes]]] = {s: [] for s in STAGES}

    def flush(stage: str) -> None:
        if batches[stage] and not dry_run:
            publish_to(settings, STAGES[stage].input_topic(settings), batches[stage])
        batches[stage] = []

    for doc in _stale_docs(es, settings, query):
        report.selected += 1
        stage = first_stale_stage(doc.get("versions") or {}, current)
        if stage is None:
            report.up_to_date += 1
        else:
            batches[stage].append((doc["id"].encode(), input_for(stage, doc)))
            report.republished[stage] = report.republished.get(stage, 0) + 1
            if len(batches[stage]) >= 500:
                flush(stage)
        if progress:
            progress(report.selected, None)
    for stage in STAGES:
        flush(stage)
    log.info("reenrich", extra={"selected": report.selected, "up_to_date": report.up_to_date,
                                "republished": json.dumps(report.republished)})
    return report


def count(es: Elasticsearch, settings: WorkerSettings, query: dict[str, Any]) -> int:
    if not es.indices.exists_alias(name=settings.es_alias):
        return 0
    return int(es.count(index=settings.es_alias, query=query)["count"])


@flow(name="reenrich")
def reenrich_flow(
    query: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: list[str] | None = None,
    dry_run: bool = False,
    settings: FlowSettings | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    es = elastic.client(settings)
    selected = selection(query, since, until, sources)
    logger.info("reenrich: %d documents selected; current versions %s",
                count(es, settings, selected), current_versions())
    report = reenrich(es, settings, selected, dry_run=dry_run)
    logger.info("reenrich: %d up to date, re-run from %s%s", report.up_to_date,
                report.republished or "no stage", " (dry run)" if dry_run else "")
    return {"selected": report.selected, "up_to_date": report.up_to_date,
            "republished": report.republished}
