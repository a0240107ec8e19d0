"""Two real dedup worker processes sharing one consumer group and one state index.

Each test starts two ``python -m newsflow worker dedup`` subprocesses, waits until the group
has split the partitions of its clean topic between them, and publishes CleanArticles straight
into that topic, choosing the partition so that the two members of a pair go to different
replicas in the same instant. Which replica reads first, and whether their reads and writes
interleave, is up to the machine: the outcome asserted must hold either way (the forced
interleavings are in tests/unit/workers/dedup/test_stage.py). The texts are generated here with a
fixed seed, so the similarity of each pair is the same on every run.
"""

from __future__ import annotations

import random

import pytest
from kafka import KafkaProducer

from newsflow.config import Settings
from schemas.articles import CleanArticle, DedupedArticle, article_id, canonical_url
from workers.dedup.es_store import ElasticsearchStore, state_partitions
from workers.io import elastic

from .conftest import Pipeline, group_partitions, wait_for

pytestmark = pytest.mark.integration

PAIRS = 12

_SYLLABLES = ["ka", "lo", "mi", "ster", "an", "dre", "vo", "pi", "tur", "el", "sa", "gon", "ri"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _story(rng: random.Random, vocabulary: list[str], words: int = 220) -> str:
    text = rng.choices(vocabulary, k=words)
    return "\n\n".join(" ".join(text[i : i + 40]) + "." for i in range(0, words, 40))


def _near_copy(rng: random.Random, vocabulary: list[str], body: str) -> str:
    """What a syndicating outlet does: its own byline and tagline, one word changed."""
    words = body.split(" ")
    words[rng.randrange(len(words))] = rng.choice(vocabulary)
    return "By our correspondent\n\n" + " ".join(words) + "\n\nRead more on our site."


def _article(url: str, title: str, body: str) -> CleanArticle:
    return CleanArticle(
        id=article_id(url),
        url=url,
        canonical_url=canonical_url(url),
        source=canonical_url(url).split("/")[2],
        title=title,
        body=body,
        word_count=len(body.split()),
    )


def pairs(seed: int, kind: str) -> list[tuple[CleanArticle, CleanArticle]]:
    """(original, copy) pairs; ``kind`` "near" re-headlines and edits the copy, "exact" not."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    out = []
    for n in range(PAIRS):
        body = _story(rng, vocabulary)
        copy = _near_copy(rng, vocabulary, body) if kind == "near" else body
        # The headline is part of the compared text: an exact copy keeps it.
        title = f"Re: story {n}" if kind == "near" else f"Story {n}"
        out.append(
            (
                _article(f"https://wire.example.org/{kind}/{seed}/{n}", f"Story {n}", body),
                _article(f"https://daily.example.net/{kind}/{seed}/{n}", title, copy),
            )
        )
    return out


def replica_partitions(settings: Settings) -> list[list[int]]:
    """Partitions of the clean topic held by each member of the dedup group, once it has two."""
    return group_partitions(settings, "dedup", replicas=2)


def start_replicas(pipeline: Pipeline) -> tuple[int, int]:
    """Two dedup workers; one partition of each, to publish into."""
    pipeline.start_worker("dedup")
    pipeline.start_worker("dedup")
    first, second = replica_partitions(pipeline.settings)
    return first[0], second[0]


def publish(settings: Settings, placed: list[tuple[CleanArticle, int]]) -> None:
    """All at once: the producer sends them in one go, so both replicas get theirs together."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=50)
    try:
        for article, partition in placed:
            producer.send(
                settings.topic("clean"),
                key=article.id.encode(),
                value=article.to_bytes(),
                partition=partition,
            )
        producer.flush()
    finally:
        producer.close()


def deduped(pipeline: Pipeline, expect: int) -> list[DedupedArticle]:
    records = pipeline.read_topic("deduped", expect=expect, timeout=120)
    assert len(records) == expect, pipeline.worker_logs()
    return [DedupedArticle.model_validate_json(r.value) for r in records]


def race(pipeline: Pipeline, kind: str, seed: int) -> tuple[list, dict[str, DedupedArticle]]:
    a, b = start_replicas(pipeline)
    story_pairs = pairs(seed, kind)
    publish(pipeline.settings, [(x, a) for x, _ in story_pairs] + [(y, b) for _, y in story_pairs])
    out = {d.id: d for d in deduped(pipeline, 2 * PAIRS)}
    return story_pairs, out


def assert_one_cluster_per_pair(story_pairs: list, out: dict[str, DedupedArticle], kind: str):
    clusters = set()
    for original, copy in story_pairs:
        x, y = out[original.id], out[copy.id]
        assert x.cluster_id == y.cluster_id, (x, y)
        # One of the two starts the story (whichever was decided first), the other points to it.
        root, dup = (x, y) if x.cluster_id == x.id else (y, x)
        assert root.cluster_id == root.id and not root.is_duplicate
        assert dup.is_duplicate and dup.duplicate_of == root.id
        assert dup.duplicate_kind == kind
        assert dup.similarity is not None and dup.similarity >= 0.8
        clusters.add(x.cluster_id)
    assert len(clusters) == PAIRS  # and the stories did not merge with each other


def test_near_duplicates_on_two_replicas_end_in_one_cluster(pipeline: Pipeline) -> None:
    story_pairs, out = race(pipeline, "near", seed=11)
    assert_one_cluster_per_pair(story_pairs, out, "near")
    assert all(d.similarity is None or d.similarity < 1.0 for d in out.values())


def test_exact_copies_on_two_replicas_end_in_one_cluster(pipeline: Pipeline) -> None:
    story_pairs, out = race(pipeline, "exact", seed=12)
    assert_one_cluster_per_pair(story_pairs, out, "exact")
    for original, copy in story_pairs:
        assert out[original.id].text_hash == out[copy.id].text_hash  # marked, both emitted


def test_replay_on_either_replica_gives_the_same_cluster(pipeline: Pipeline) -> None:
    story_pairs, first = race(pipeline, "near", seed=13)
    (a, *_), (b, *_) = replica_partitions(pipeline.settings)
    # The same messages again, each now sent to the *other* replica than the first time.
    publish(pipeline.settings, [(x, b) for x, _ in story_pairs] + [(y, a) for _, y in story_pairs])
    every = deduped(pipeline, 4 * PAIRS)
    replayed: dict[str, list[DedupedArticle]] = {}
    for d in every:
        replayed.setdefault(d.id, []).append(d)
    assert set(replayed) == set(first)
    for article_id_, versions in replayed.items():
        assert len(versions) == 2
        fields = {"cluster_id", "is_duplicate", "duplicate_of", "similarity", "duplicate_kind"}
        assert versions[0].model_dump(include=fields) == versions[1].model_dump(include=fields)
        assert versions[0].cluster_id == first[article_id_].cluster_id
    # The replay added no state: one record per article, nothing claimed twice.
    es = elastic.client(pipeline.settings)
    store = ElasticsearchStore(es, state_partitions(pipeline.settings), create_index=False)
    es.indices.refresh(index=store.readable)
    count = es.count(index=store.readable, query={"term": {"kind": "article"}})["count"]
    assert count == 2 * PAIRS


def test_duplicates_are_indexed_and_collapse_to_one_hit_per_story(pipeline: Pipeline) -> None:
    """The rest of the pipeline too: each cluster is one collapsed hit and has both."""
    story_pairs, out = race(pipeline, "near", seed=14)
    pipeline.start_worker("entities")
    pipeline.start_worker("stories")
    pipeline.start_worker("index")
    es = elastic.client(pipeline.settings)
    alias = pipeline.settings.es_alias

    def indexed() -> bool:
        es.indices.refresh(index=alias)
        return int(es.count(index=alias)["count"]) == 2 * PAIRS

    wait_for(indexed, timeout=240, what="every article indexed")
    hits = es.search(
        index=alias, query={"match_all": {}}, collapse={"field": "cluster_id"}, size=100
    )["hits"]["hits"]
    assert len(hits) == PAIRS
    roots = {out[o.id].cluster_id for o, _ in story_pairs}
    assert {h["_source"]["cluster_id"] for h in hits} == roots
    for root in roots:
        assert es.count(index=alias, query={"term": {"cluster_id": root}})["count"] == 2
    marked = es.count(index=alias, query={"term": {"is_duplicate": True}})["count"]
    assert marked == PAIRS
