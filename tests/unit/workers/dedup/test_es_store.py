"""dedup state in Elasticsearch, against a stand-in client: the index made from
``schemas/es/dedup-state.json``, records and claims written create-if-absent and read back,
conflicts reported, refusals raised. The real thing: tests/integration/test_dedup_store.py."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from schemas import ES_DIR
from workers.dedup.es_store import (
    STATE_MAPPINGS,
    STATE_SETTINGS,
    ElasticsearchStore,
    StateStoreError,
)
from workers.dedup.store import ArticleState, Decision


class FakeElasticsearch:
    """Just the calls the store makes, over a dict of documents by id."""

    def __init__(self, refuse: str | None = None) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.created: dict[str, Any] = {}
        self.refuse = refuse  # a document id whose writes are rejected (not a conflict)
        self.indices = SimpleNamespace(
            exists=lambda index: bool(self.created),
            create=lambda index, settings, mappings: self.created.update(
                settings=settings, mappings=mappings),
            put_mapping=lambda index, properties: None,
        )

    def mget(self, index: str, ids: list[str]) -> dict[str, Any]:
        return {"docs": [{"_id": i, "found": True, "_source": self.docs[i]} if i in self.docs
                         else {"_id": i, "found": False} for i in ids]}

    def bulk(self, index: str, operations: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        items = []
        for action, source in zip(operations[::2], operations[1::2], strict=True):
            ((op, meta),) = action.items()
            doc_id = meta["_id"]
            if doc_id == self.refuse:
                outcome = {"_id": doc_id, "status": 400, "error": {"type": "mapper_exception"}}
            elif op == "create" and doc_id in self.docs:
                outcome = {"_id": doc_id, "status": 409}
            else:
                self.docs[doc_id] = json.loads(json.dumps(source))  # as it travels
                outcome = {"_id": doc_id, "status": 201}
            items.append({op: outcome})
        return {"items": items}


def store(es: FakeElasticsearch) -> ElasticsearchStore:
    return ElasticsearchStore(cast(Any, es), "test-dedup-state")


def article(article_id: str, cluster_id: str | None = None) -> ArticleState:
    return ArticleState(
        article_id, "hash", np.array([1, 2**32 - 1], dtype=np.uint32),
        Decision(cluster_id=cluster_id or article_id), np.array([3, 7], dtype=np.uint32),
    )


def test_the_index_is_made_from_the_schema_file() -> None:
    body = json.loads((ES_DIR / "dedup-state.json").read_text(encoding="utf-8"))
    assert (body["settings"], body["mappings"]) == (STATE_SETTINGS, STATE_MAPPINGS)
    es = FakeElasticsearch()
    store(es)
    assert es.created == {"settings": STATE_SETTINGS, "mappings": STATE_MAPPINGS}
    assert STATE_MAPPINGS["dynamic"] == "strict" and STATE_SETTINGS["number_of_shards"] == 1


def test_records_and_claims_round_trip_in_the_mapped_fields() -> None:
    es = FakeElasticsearch()
    state_store = store(es)
    result = state_store.write([article("a")], {"h:hash": "a", "b7.0.ff": "a"})
    assert result.existing_articles == [] and result.existing_claims == []
    fields = set(STATE_MAPPINGS["properties"])
    assert all(set(doc) <= fields for doc in es.docs.values())  # the mapping is strict

    snapshot = state_store.fetch(["a", "missing"], ["h:hash", "b7.0.ff", "b7.1.00"])
    assert snapshot.claims == {"h:hash": "a", "b7.0.ff": "a"}
    (back,) = snapshot.articles.values()
    assert back.decision == Decision(cluster_id="a")
    assert back.signature.tolist() == [1, 2**32 - 1] and back.signature.dtype == np.uint32
    assert back.shingles is not None and back.shingles.tolist() == [3, 7]
    assert state_store.round_trips == 2


def test_what_another_writer_made_first_is_reported_not_overwritten() -> None:
    es = FakeElasticsearch()
    state_store = store(es)
    state_store.write([article("a")], {"h:hash": "a"})
    result = state_store.write([article("a", "z"), article("b")], {"h:hash": "b"})
    assert result.existing_articles == ["a"] and result.existing_claims == ["h:hash"]
    assert es.docs["a:a"]["cluster_id"] == "a"

    state_store.overwrite([article("a", "z")])
    assert es.docs["a:a"]["cluster_id"] == "z"


def test_a_refused_write_raises() -> None:
    state_store = store(FakeElasticsearch(refuse="h:hash"))
    with pytest.raises(StateStoreError, match="h:hash"):
        state_store.write([article("a")], {"h:hash": "a"})


def test_a_record_of_version_1_has_no_shingles() -> None:
    es = FakeElasticsearch()
    es.docs["a:old"] = {"kind": "article", "article_id": "old", "cluster_id": "old",
                        "text_hash": "h", "signature": [5, 6], "at": 0,
                        "decision": Decision(cluster_id="old").to_dict()}
    (old,) = store(es).fetch(["old"], []).articles.values()
    assert old.shingles is None and old.signature.tolist() == [5, 6]
