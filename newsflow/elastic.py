"""Elasticsearch housekeeping: the versioned ``news`` index behind its alias, and bulk writes.

Index definitions are JSON files, ``schemas/es/news-v<N>.json``; the highest N is the current
one. The index is named ``<alias>-v<N>`` and reached through ``<alias>`` only, so a later
mapping can be filled beside it and the alias swapped without downtime.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.config import Settings
from schemas import ES_DIR

log = logging.getLogger(__name__)

_VERSION_FILE = re.compile(r"^news-v(\d+)\.json$")


def client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url, request_timeout=30, retry_on_timeout=True, max_retries=3)


def mapping_versions() -> list[int]:
    return sorted(int(m.group(1)) for p in ES_DIR.iterdir() if (m := _VERSION_FILE.match(p.name)))


def index_definition(version: int | None = None) -> tuple[int, dict[str, Any]]:
    """(version, body) of an index definition file; the newest when ``version`` is None."""
    version = version or mapping_versions()[-1]
    body = json.loads((ES_DIR / f"news-v{version}.json").read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return version, body


def index_name(settings: Settings, version: int) -> str:
    return f"{settings.es_alias}-v{version}"


def ensure_index(es: Elasticsearch, settings: Settings) -> str:
    """Create the current index and point the alias at it, unless the alias already exists.

    Returns the index the alias writes to. Idempotent, safe to run from every worker.
    """
    alias = settings.es_alias
    if es.indices.exists_alias(name=alias):
        return next(iter(es.indices.get_alias(name=alias)))
    version, body = index_definition()
    name = index_name(settings, version)
    if not es.indices.exists(index=name):
        es.options(ignore_status=400).indices.create(
            index=name, settings=body["settings"], mappings=body["mappings"]
        )
    es.indices.put_alias(index=name, name=alias, is_write_index=True)
    log.info("index ready", extra={"index": name, "alias": alias})
    return name


def drop_index(es: Elasticsearch, settings: Settings) -> None:
    """Delete every index behind the alias, and the dedup state (tests and ``stack reset``)."""
    if es.indices.exists_alias(name=settings.es_alias):
        for name in es.indices.get_alias(name=settings.es_alias):
            es.indices.delete(index=name)
    es.options(ignore_status=404).indices.delete(index=settings.dedup_index)


def count(es: Elasticsearch, settings: Settings) -> int:
    if not es.indices.exists_alias(name=settings.es_alias):
        return 0
    return int(es.count(index=settings.es_alias)["count"])


@dataclass(frozen=True)
class BulkFailure:
    position: int  # index into the list of documents given to bulk_index
    status: int
    error: str

    @property
    def transient(self) -> bool:
        # 429 = too many requests, 5xx = the node's trouble: worth retrying, not the document's.
        return self.status == 429 or self.status >= 500


def bulk_index(es: Elasticsearch, index: str, docs: list[tuple[str, bytes]]) -> list[BulkFailure]:
    """Index ``(id, json bytes)`` pairs in one bulk request; return the items that failed.

    Every item's status is checked: a bulk response is HTTP 200 even when items failed.
    """
    if not docs:
        return []
    lines: list[str] = []
    for doc_id, source in docs:
        lines.append(json.dumps({"index": {"_index": index, "_id": doc_id}}))
        lines.append(source.decode("utf-8"))
    # Sent as ready NDJSON: the documents are already JSON, no need to parse and re-encode.
    response = es.bulk(operations="\n".join(lines) + "\n")  # type: ignore[arg-type]
    failures = []
    if response.get("errors"):
        for position, item in enumerate(response["items"]):
            result = item["index"]
            if "error" in result:
                error = result["error"]
                failures.append(
                    BulkFailure(position, int(result.get("status", 500)), json.dumps(error)[:2000])
                )
    return failures
