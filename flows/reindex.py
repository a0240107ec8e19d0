"""Prefect flow ``reindex``: the next index version from the newest mapping file, filled,
counted, and swapped in behind the alias atomically; ``drop_old=True`` (a separate run, once
you are content with the new index) deletes the indices the alias left behind.

How: create ``<alias>-v<N>`` from the newest mapping file, copy every document into it (scan +
bulk: the local Elasticsearch has no ``_reindex``), copy again what live writes changed
meanwhile, compare counts, then move the alias in one atomic ``_aliases`` request. The old
index stays until :func:`drop_old_indices`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from prefect import flow, get_run_logger

from flows.progress import Progress
from flows.settings import FlowSettings, load_settings
from schemas.articles import localized
from workers.io import elastic
from workers.settings import WorkerSettings

log = logging.getLogger(__name__)


CATCH_UP_MARGIN = timedelta(seconds=60)


@dataclass
class ReindexReport:
    old: list[str]
    new: str
    copied: int
    caught_up: int
    old_count: int  # documents older than the catch-up window, in the old indices
    new_count: int  # ... and in the new one (equal, or the alias is not moved)
    swapped: bool


def indices_behind_alias(es: Elasticsearch, settings: WorkerSettings) -> list[str]:
    if not es.indices.exists_alias(name=settings.es_alias):
        return []
    return sorted(es.indices.get_alias(name=settings.es_alias))


def carried(source: dict[str, Any]) -> dict[str, Any]:
    """A document as the newest mapping has it: the per-language fields of mapping 3
    (``localized``) made from its language, title and body when it comes from an older index;
    the story of mapping 4 (``story_id``) its dedup cluster until ``reenrich`` runs the
    stories stage on it (its recorded versions lack ``stories``)."""
    if "story_id" not in source and source.get("cluster_id"):
        source["story_id"] = source["cluster_id"]
    if "localized" not in source and (fields := localized(
            source.get("language"), source.get("title"), source.get("body", ""))):
        source["localized"] = fields
    return source


def _copy(es: Elasticsearch, source: str, target: str, query: dict[str, Any] | None,
          op_type: str = "index") -> int:
    """Copy documents (same ``_id``) with scan + bulk; returns how many were written.

    ``op_type="create"`` writes only documents the target lacks (a conflict means the target
    already has a newer copy from a live writer).
    """
    actions = (
        {"_op_type": op_type, "_index": target, "_id": hit["_id"],
         "_source": carried(hit["_source"])}
        for hit in helpers.scan(es, index=source, query={"query": query or {"match_all": {}}},
                                size=500, preserve_order=False)
    )
    ok = 0
    for success, item in helpers.streaming_bulk(es, actions, chunk_size=500,
                                                raise_on_error=False):
        status = next(iter(item.values())).get("status", 0)
        if success:
            ok += 1
        elif status != 409:  # 409 on create: already there, newer
            raise RuntimeError(f"copying into {target} failed: {item}")
    return ok


def reindex(es: Elasticsearch, settings: WorkerSettings, version: int | None = None,
            progress: Progress | None = None) -> ReindexReport:
    """Fill the index of mapping ``version`` (default: the newest) and swap the alias to it."""
    alias = settings.es_alias
    old = indices_behind_alias(es, settings)
    version, body = elastic.index_definition(version)
    new = elastic.index_name(settings, version)
    if new in old:
        raise ValueError(f"'{alias}' already points at {new}: no newer mapping to move to")
    if version >= 2:  # later generations of the new version (rollover) take its template
        elastic.ensure_template(es, settings, version)
    if not es.indices.exists(index=new):
        es.indices.create(index=new, settings=body["settings"], mappings=body["mappings"])
    # Live writers keep writing to the old index while it is copied. Whatever they wrote since
    # ``since`` is copied again before and after the swap. The margin covers documents stamped
    # (indexed_at) a little before they reached the index.
    es.indices.refresh(index=old)
    since = {"range": {"indexed_at": {"gte": (datetime.now(UTC) - CATCH_UP_MARGIN).isoformat()}}}
    stable = {"range": {"indexed_at": {"lt": since["range"]["indexed_at"]["gte"]}}}
    total = elastic.count(es, settings)
    if progress:
        progress(0, total)
    copied = _copy(es, alias, new, None)
    if progress:
        progress(copied, total)
    es.indices.refresh(index=old)
    caught_up = _copy(es, alias, new, since)
    es.indices.refresh(index=[*old, new])
    # The check: every document older than the catch-up window is in the new index.
    old_count = int(es.count(index=",".join(old), query=stable)["count"])
    new_count = int(es.count(index=new, query=stable)["count"])
    if new_count != old_count:
        log.error("reindex count check failed; alias not moved",
                  extra={"old": old, "new": new, "old_count": old_count, "new_count": new_count})
        return ReindexReport(old, new, copied, caught_up, old_count, new_count, swapped=False)
    # One request, applied atomically: searches see the old index or the new one, never none.
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": alias,
                                              "is_write_index": True}}]
    actions += [{"remove": {"index": name, "alias": alias}} for name in old]
    es.indices.update_aliases(actions=actions)
    # Writes that reached the old index until the swap; "create", so a newer copy written
    # through the alias since the swap is never overwritten by an older one.
    es.indices.refresh(index=old)
    for name in old:
        caught_up += _copy(es, name, new, since, op_type="create")
    log.info("alias swapped", extra={"alias": alias, "old": old, "new": new,
                                     "documents": new_count})
    return ReindexReport(old, new, copied, caught_up, old_count, new_count, swapped=True)


def drop_old_indices(es: Elasticsearch, settings: WorkerSettings) -> list[str]:
    """Delete ``<alias>-v<N>`` indices the alias no longer points at; returns their names."""
    current = set(indices_behind_alias(es, settings))
    if not current:
        raise ValueError(f"alias '{settings.es_alias}' does not exist: refusing to drop")
    # Ours only: <alias>-v<N> or a generation <alias>-v<N>-<G>, never e.g. <alias>-dedup-state.
    ours = re.compile(rf"^{re.escape(settings.es_alias)}-v\d+(-\d+)?$")
    names = es.indices.get(index=f"{settings.es_alias}-v*", expand_wildcards="open,closed")
    dropped = sorted(n for n in names if n not in current and ours.match(n))
    for name in dropped:
        es.indices.delete(index=name)
    return dropped


@flow(name="reindex")
def reindex_flow(
    version: int | None = None, drop_old: bool = False, settings: FlowSettings | None = None
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    es = elastic.client(settings)
    if drop_old:
        dropped = drop_old_indices(es, settings)
        logger.info("dropped %s", ", ".join(dropped) or "nothing")
        return {"dropped": dropped}
    report = reindex(
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
