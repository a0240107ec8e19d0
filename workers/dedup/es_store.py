"""Dedup state in an Elasticsearch index shared by every replica (``DedupStore`` over ES).

Reads are real-time ``mget`` by id, writes one ``bulk`` of create-if-absent operations; the
index's settings and mapping are ``schemas/es/dedup-state.json``. A read or write the index
refuses (not a conflict) raises ``StateStoreError``, a transient error: the batch is retried
and, every write being create-if-absent, replays to the same decisions.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from schemas import ES_DIR
from workers.dedup.store import ArticleState, Decision, Snapshot, WriteResult
from workers.stage import TransientError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def _state_index() -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, mappings) of the state index, from ``schemas/es/dedup-state.json``."""
    body = json.loads((ES_DIR / "dedup-state.json").read_text(encoding="utf-8"))
    return body["settings"], body["mappings"]


STATE_SETTINGS, STATE_MAPPINGS = _state_index()


class StateStoreError(TransientError):
    """The state index refused a read or a write (not a conflict): the batch cannot be decided."""


class ElasticsearchStore:
    """State in an Elasticsearch index shared by all replicas; reads are real-time ``mget``
    (no refresh needed), writes one ``bulk`` of ``create`` operations."""

    def __init__(self, es: Elasticsearch, index: str, *, create_index: bool = True,
                 replicas: int = 0) -> None:
        self.es = es
        self.index = index
        self.replicas = replicas  # of a state index created here
        self.round_trips = 0  # requests made by fetch/write/overwrite, for tests and benchmarks
        if create_index:
            self.ensure_index()

    def ensure_index(self) -> None:
        from elasticsearch import BadRequestError

        if self.es.indices.exists(index=self.index):
            # A state index made by version 1.0 lacks the shingle field: adding one is allowed.
            self.es.indices.put_mapping(index=self.index, properties=STATE_MAPPINGS["properties"])
            return
        try:
            self.es.indices.create(
                index=self.index, settings={**STATE_SETTINGS, "number_of_replicas": self.replicas},
                mappings=STATE_MAPPINGS,
            )
        except BadRequestError as error:
            if error.error != "resource_already_exists_exception":  # another replica won
                raise

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        ids = [_article_doc_id(a) for a in article_ids] + list(claim_keys)
        snapshot = Snapshot()
        if not ids:
            return snapshot
        response = self.es.mget(index=self.index, ids=ids)
        self.round_trips += 1
        for doc in response["docs"]:
            if "error" in doc:
                raise StateStoreError(
                    f"dedup state read failed for {doc.get('_id')}: {doc['error']}"
                )
            if not doc.get("found"):
                continue
            source = doc["_source"]
            if source["kind"] == "article":
                snapshot.articles[source["article_id"]] = _state_from_source(source)
            else:
                snapshot.claims[doc["_id"]] = source["article_id"]
        return snapshot

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        now = int(time.time() * 1000)
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
        for doc_id, status, error in self._bulk(operations):
            if status == 409:  # someone created it first: theirs stands
                if doc_id.startswith("a:"):
                    result.existing_articles.append(doc_id[2:])
                else:
                    result.existing_claims.append(doc_id)
            elif status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")
        return result

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        now = int(time.time() * 1000)
        operations: list[dict[str, Any]] = []
        for state in articles:
            operations += [{"index": {"_id": _article_doc_id(state.article_id)}}]
            operations += [_state_source(state, now)]
        if not operations:
            return
        for doc_id, status, error in self._bulk(operations):
            if status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")

    def _bulk(self, operations: list[dict[str, Any]]) -> Iterable[tuple[str, int, Any]]:
        response = self.es.bulk(
            index=self.index,
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

