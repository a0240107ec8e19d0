"""dedup state types and the in-memory store: create-if-absent writes that report what was
there first, overwrites, and decisions that survive a round trip through a dict."""

from __future__ import annotations

import numpy as np

from workers.dedup.store import ArticleState, Decision, MemoryStore


def state(article_id: str, cluster_id: str | None = None) -> ArticleState:
    decision = Decision(cluster_id=cluster_id or article_id)
    return ArticleState(article_id, "hash", np.arange(4, dtype=np.uint32), decision)


def test_writes_create_only_what_is_absent_and_report_the_rest() -> None:
    store = MemoryStore()
    first = store.write([state("a")], {"h:x": "a", "b7.0.y": "a"})
    assert first.existing_articles == [] and first.existing_claims == []

    second = store.write([state("a", "z"), state("b")], {"h:x": "b", "b7.1.y": "b"})
    assert second.existing_articles == ["a"] and second.existing_claims == ["h:x"]
    assert store.articles["a"].decision.cluster_id == "a"  # the first write stands
    assert store.claims == {"h:x": "a", "b7.0.y": "a", "b7.1.y": "b"}


def test_fetch_leaves_out_what_is_absent() -> None:
    store = MemoryStore()
    store.write([state("a")], {"h:x": "a"})
    snapshot = store.fetch(["a", "missing"], ["h:x", "h:missing"])
    assert list(snapshot.articles) == ["a"] and snapshot.claims == {"h:x": "a"}


def test_overwrite_replaces_records() -> None:
    store = MemoryStore()
    store.write([state("b")], {})
    store.overwrite([state("b", "a")])
    assert store.articles["b"].decision.cluster_id == "a"
    assert not store.articles["b"].is_root


def test_decision_round_trip() -> None:
    new = Decision(cluster_id="a")
    near = Decision(cluster_id="a", duplicate_of="b", similarity=0.9, duplicate_kind="near")
    for decision in (new, near):
        assert Decision.from_dict(decision.to_dict()) == decision
    assert not new.is_duplicate and near.is_duplicate
    assert near.to_dict()["is_duplicate"] is True
