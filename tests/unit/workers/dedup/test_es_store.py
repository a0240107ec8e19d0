"""dedup state in Elasticsearch, against a stand-in client: the index made from
``schemas/es/dedup-state.json``, records and claims written create-if-absent and read back,
conflicts reported, refusals raised. The real thing: tests/integration/test_dedup_store.py."""

from __future__ import annotations

import fnmatch
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
from workers.dedup.partitions import Partitions
from workers.dedup.store import ArticleState, Decision


class FakeElasticsearch:
    """Just the calls the store makes, over dicts of documents by index and id."""

    def __init__(self, refuse: str | None = None) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}  # index -> id -> source
        self.created: dict[str, Any] = {}
        self.deleted: list[str] = []
        self.refuse = refuse  # a document id whose writes are rejected (not a conflict)
        self.indices = SimpleNamespace(
            get=lambda index, **_: {i: {} for i in self.docs
                                    if fnmatch.fnmatch(i, index)},
            create=self._create,
            delete=self._delete,
        )

    def _create(self, index: str, settings: Any, mappings: Any) -> None:
        self.created.update(settings=settings, mappings=mappings)
        self.docs.setdefault(index, {})

    def _delete(self, index: str) -> None:
        self.deleted.append(index)
        self.docs.pop(index, None)

    def options(self, **_: Any) -> FakeElasticsearch:
        return self

    def mget(self, docs: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for d in docs:
            index, i = d["_index"], d["_id"]
            if index not in self.docs:
                out.append({"_id": i, "error": {"type": "index_not_found_exception"}})
            elif i in self.docs[index]:
                out.append({"_id": i, "_source": self.docs[index][i]})
            else:
                out.append({"_id": i})
        return {"docs": out}

    def bulk(self, index: str, operations: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        items = []
        docs = self.docs.setdefault(index, {})
        for action, source in zip(operations[::2], operations[1::2], strict=True):
            ((op, meta),) = action.items()
            doc_id = meta["_id"]
            if doc_id == self.refuse:
                outcome = {"_id": doc_id, "status": 400, "error": {"type": "mapper_exception"}}
            elif op == "create" and doc_id in docs:
                outcome = {"_id": doc_id, "status": 409}
            else:
                docs[doc_id] = json.loads(json.dumps(source))  # as it travels
                outcome = {"_id": doc_id, "status": 201}
            items.append({op: outcome})
        return {"items": items}


DAY = 86_400.0
NOW = 19_995 * DAY  # 2024-09-29, the first day of a 15-day partition (19,995 = 15 x 1,333)
PARTS = Partitions("test-dedup-state", window_days=30, partition_days=15)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store(es: FakeElasticsearch, clock: Clock | None = None) -> ElasticsearchStore:
    return ElasticsearchStore(cast(Any, es), PARTS, clock=clock or Clock())


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
    (written,) = es.docs.values()
    assert all(set(doc) <= fields for doc in written.values())  # the mapping is strict

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
    (docs,) = es.docs.values()
    assert docs["a:a"]["cluster_id"] == "a"

    state_store.overwrite([article("a", "z")])
    assert docs["a:a"]["cluster_id"] == "z"


def test_a_refused_write_raises() -> None:
    state_store = store(FakeElasticsearch(refuse="h:hash"))
    with pytest.raises(StateStoreError, match="h:hash"):
        state_store.write([article("a")], {"h:hash": "a"})


def test_a_record_of_version_1_has_no_shingles() -> None:
    es = FakeElasticsearch()
    es.docs[PARTS.current(NOW)] = {"a:old": {
        "kind": "article", "article_id": "old", "cluster_id": "old", "text_hash": "h",
        "signature": [5, 6], "at": 0, "decision": Decision(cluster_id="old").to_dict()}}
    (old,) = store(es).fetch(["old"], []).articles.values()
    assert old.shingles is None and old.signature.tolist() == [5, 6]


def test_state_older_than_the_window_is_no_longer_read_and_its_partition_is_deleted() -> None:
    es = FakeElasticsearch()
    clock = Clock()
    state_store = store(es, clock)
    state_store.write([article("old")], {"h:hash": "old"})
    first = PARTS.current(NOW)
    assert list(es.docs) == [first] and first == "test-dedup-state-2024.09.29"

    clock.now = NOW + 20 * DAY  # the next partition; the first one still within the window
    state_store.write([article("new")], {"b7.0.ff": "new"})
    assert sorted(es.docs) == [first, "test-dedup-state-2024.10.14"]
    seen = state_store.fetch(["old", "new"], ["h:hash", "b7.0.ff"])
    assert set(seen.articles) == {"old", "new"}
    assert seen.claims == {"h:hash": "old", "b7.0.ff": "new"}

    clock.now = NOW + 45 * DAY  # every day of the first partition is now older than 30 days
    seen = state_store.fetch(["old", "new"], ["h:hash", "b7.0.ff"])
    assert set(seen.articles) == {"new"} and seen.claims == {"b7.0.ff": "new"}
    assert es.deleted == [first]


def test_a_claim_in_two_partitions_is_the_older_ones() -> None:
    es = FakeElasticsearch()
    clock = Clock(NOW + 20 * DAY)
    state_store = store(es, clock)
    es.docs[PARTS.current(NOW)] = {"h:x": {"kind": "hash", "article_id": "first", "at": 0}}
    state_store.roll()  # lists the partitions again, as on a partition change
    state_store.write([], {"h:x": "second"})  # a replica whose clock ran ahead, say
    assert state_store.fetch([], ["h:x"]).claims == {"h:x": "first"}


def test_a_partition_deleted_by_another_replica_reads_as_empty() -> None:
    es = FakeElasticsearch()
    clock = Clock(NOW + 20 * DAY)
    es.docs[PARTS.current(NOW)] = {"h:x": {"kind": "hash", "article_id": "first", "at": 0}}
    state_store = store(es, clock)
    del es.docs[PARTS.current(NOW)]
    assert state_store.fetch(["a"], ["h:x"]).claims == {}
