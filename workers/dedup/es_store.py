"""Dedup state in Elasticsearch indices shared by every replica (``DedupStore`` over ES).

The state is kept in time partitions (``workers.dedup.partitions``): writes go to the current
one, reads cover those within the window, older ones are deleted whole. Reads are real-time
``mget`` by id, writes one ``bulk`` of create-if-absent operations; each partition's settings
and mapping are ``schemas/es/dedup-state.json``. A read or write the index
refuses (not a conflict) raises ``StateStoreError``, a transient error: the batch is retried
and, every write being create-if-absent, replays to the same decisions.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from schemas import ES_DIR
from workers.dedup.partitions import Partitions
from workers.dedup.store import ArticleState, Decision, Snapshot, WriteResult
from workers.settings import WorkerSettings
from workers.stage import TransientError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)


def _state_index() -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, mappings) of the state index, from ``schemas/es/dedup-state.json``."""
    body = json.loads((ES_DIR / "dedup-state.json").read_text(encoding="utf-8"))
    return body["settings"], body["mappings"]


STATE_SETTINGS, STATE_MAPPINGS = _state_index()


class StateStoreError(TransientError):
    """The state index refused a read or a write (not a conflict): the batch cannot be decided."""


class ElasticsearchStore:
    """State in time partitions of Elasticsearch indices shared by all replicas; reads are
    real-time ``mget`` over the partitions within the window (no refresh needed), writes one
    ``bulk`` of ``create`` operations into the current partition.

    ``clock`` gives the time in epoch seconds (tests pass one set in the past). When the
    current partition changes, the store creates the new one and deletes those past the
    window: whole indices, idempotent, so every replica may do it.
    """

    def __init__(self, es: Elasticsearch, partitions: Partitions, *, create_index: bool = True,
                 replicas: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.es = es
        self.partitions = partitions
        self.replicas = replicas  # of a partition created here
        self.clock = clock
        self.create_index = create_index
        self.round_trips = 0  # requests made by fetch/write/overwrite, for tests and benchmarks
        self.index = ""  # the current partition, set by roll()
        self.readable: list[str] = []  # partitions read, oldest first
        self._written_to = ""  # the partition of the last write(), which overwrite() replaces in
        self.roll()

    def roll(self) -> None:
        """Start writing to the partition of now: create it (unless told not to), forget and
        delete the partitions past the window. Called whenever the partition changes."""
        now = self.clock()
        self.index = self.partitions.current(now)
        existing = list(self.es.indices.get(index=self.partitions.pattern,
                                            expand_wildcards="open", allow_no_indices=True))
        if self.create_index and self.index not in existing:
            self._create(self.index)
        expire(self.es, self.partitions, existing, now)
        self.readable = self.partitions.readable(existing, now)

    def _create(self, index: str) -> None:
        from elasticsearch import BadRequestError

        try:
            self.es.indices.create(
                index=index, settings={**STATE_SETTINGS, "number_of_replicas": self.replicas},
                mappings=STATE_MAPPINGS,
            )
            log.info("dedup state partition created", extra={"index": index})
        except BadRequestError as error:
            if error.error != "resource_already_exists_exception":  # another replica won
                raise

    def _now(self) -> int:
        """Epoch millis of now, after rolling to a new partition if now is in one."""
        now = self.clock()
        if self.partitions.current(now) != self.index:
            self.roll()
        return int(now * 1000)

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        self._now()
        ids = [_article_doc_id(a) for a in article_ids] + list(claim_keys)
        snapshot = Snapshot()
        if not ids:
            return snapshot
        # Every id in every partition of the window; the oldest partition's copy wins (the
        # first claim made), so partitions are asked newest first and older ones overwrite.
        docs = [{"_index": p, "_id": i} for p in reversed(self.readable) for i in ids]
        response = self.es.mget(docs=docs, filter_path="docs._id,docs._source,docs.error")
        self.round_trips += 1
        for doc in response.get("docs", []):
            if "error" in doc:
                if _missing_index(doc["error"]):  # deleted by another replica meanwhile
                    continue
                raise StateStoreError(
                    f"dedup state read failed for {doc.get('_id')}: {doc['error']}"
                )
            source = doc.get("_source")
            if source is None:
                continue
            if source["kind"] == "article":
                snapshot.articles[source["article_id"]] = _state_from_source(source)
            else:
                snapshot.claims[doc["_id"]] = source["article_id"]
        return snapshot

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        now = self._now()
        operations: list[dict[str, Any]] = []
        for state in articles:
            operations += [{"create": {"_id": _article_doc_id(state.article_id)}}]
            operations += [_state_source(state, now)]
        for key, owner in claims.items():
            kind = "hash" if key.startswith("h:") else "band"
            operations += [{"create": {"_id": key}}, {"kind": kind, "article_id": owner, "at": now}]
        result = WriteResult()
        if not operations:
            return result
        self._written_to = self.index
        for doc_id, status, error in self._bulk(self._written_to, operations):
            if status == 409:  # someone created it first: theirs stands
                if doc_id.startswith("a:"):
                    result.existing_articles.append(doc_id[2:])
                else:
                    result.existing_claims.append(doc_id)
            elif status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")
        return result

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        """Replace records the last ``write`` created, in the partition it wrote to."""
        now = int(self.clock() * 1000)
        operations: list[dict[str, Any]] = []
        for state in articles:
            operations += [{"index": {"_id": _article_doc_id(state.article_id)}}]
            operations += [_state_source(state, now)]
        if not operations:
            return
        for doc_id, status, error in self._bulk(self._written_to or self.index, operations):
            if status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")

    def _bulk(self, index: str,
              operations: list[dict[str, Any]]) -> Iterable[tuple[str, int, Any]]:
        response = self.es.bulk(
            index=index,
            operations=operations,
            refresh=False,
            filter_path="items.*._id,items.*.status,items.*.error",
        )
        self.round_trips += 1
        for item in response["items"]:
            ((_, outcome),) = item.items()
            yield outcome["_id"], outcome["status"], outcome.get("error")

    def close(self) -> None:
        pass  # the client belongs to the worker, which closes it


def state_partitions(settings: WorkerSettings) -> Partitions:
    """The dedup state's partitions as the settings say."""
    return Partitions(settings.dedup_index, settings.dedup_window_days,
                      settings.dedup_partition_days)


def expire(es: Elasticsearch, partitions: Partitions, existing: Iterable[str],
           now: float) -> list[str]:
    """Delete the partitions of ``existing`` past the window; return those deleted.

    Idempotent: a partition another replica deleted first is no error. Without the
    privilege to delete (an older role), logs a warning and keeps going: the rollover flow,
    run by an admin, expires them too."""
    from elasticsearch import AuthorizationException

    doomed = sorted(i for i in existing if partitions.expired(i, now))
    for index in doomed:
        try:
            es.options(ignore_status=404).indices.delete(index=index)
        except AuthorizationException as error:
            log.warning("dedup state partition past the window not deleted: %s", error,
                        extra={"index": index})
            return []
        log.info("dedup state partition expired", extra={"index": index})
    return doomed


def expire_partitions(es: Elasticsearch, partitions: Partitions,
                      now: float | None = None) -> list[str]:
    """List the partitions and delete those past the window (the rollover flow's part)."""
    existing = list(es.indices.get(index=partitions.pattern, expand_wildcards="open",
                                   allow_no_indices=True))
    return expire(es, partitions, existing, time.time() if now is None else now)


def _missing_index(error: Any) -> bool:
    return isinstance(error, Mapping) and error.get("type") == "index_not_found_exception"


def _article_doc_id(article_id: str) -> str:
    return f"a:{article_id}"


def _state_source(state: ArticleState, now: int) -> dict[str, Any]:
    return {
        "kind": "article",
        "article_id": state.article_id,
        "cluster_id": state.decision.cluster_id,
        "text_hash": state.text_hash,
        "signature": state.signature.tolist(),
        "decision": state.decision.to_dict(),
        **(
            {"shingles": base64.b64encode(state.shingles.astype("<u4").tobytes()).decode()}
            if state.shingles is not None
            else {}
        ),
        "at": now,
    }


def _state_from_source(source: Mapping[str, Any]) -> ArticleState:
    return ArticleState(
        article_id=source["article_id"],
        text_hash=source["text_hash"],
        signature=np.asarray(source["signature"], dtype=np.uint32),
        decision=Decision.from_dict(source["decision"]),
        shingles=(
            np.frombuffer(base64.b64decode(source["shingles"]), dtype="<u4").astype(np.uint32)
            if "shingles" in source
            else None
        ),
    )

