"""Dedup state in a real Elasticsearch: the same decisions as in memory, shared by replicas.

Elasticsearch comes from ``NEWSFLOW_ES_URL`` (default http://127.0.0.1:9200); each test uses
its own uuid-suffixed state index and deletes it afterwards.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch

from schemas.articles import CleanArticle, DedupedArticle, article_id, canonical_url, source_of
from workers.dedup.es_store import STATE_MAPPINGS, ElasticsearchStore
from workers.dedup.partitions import DAY, Partitions
from workers.dedup.stage import DedupStage
from workers.dedup.store import MemoryStore
from workers.stage import Emit

pytestmark = pytest.mark.integration

ES_URL = os.environ.get("NEWSFLOW_ES_URL", "http://127.0.0.1:9200")
THRESHOLD = 0.8


@pytest.fixture(scope="module")
def es() -> Iterator[Elasticsearch]:
    client = Elasticsearch(ES_URL, request_timeout=30)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as error:
        pytest.fail(f"no Elasticsearch at {ES_URL} (set NEWSFLOW_ES_URL): {error}")
    yield client
    client.close()


@pytest.fixture
def index(es: Elasticsearch) -> Iterator[str]:
    """The stem of this test's state partitions, ``<stem>-YYYY.MM.DD``; deleted afterwards."""
    name = f"test-dedup-state-{uuid.uuid4().hex[:12]}"
    yield name
    for partition in es.indices.get(index=f"{name}-*", allow_no_indices=True):
        es.indices.delete(index=partition, ignore_unavailable=True)


def parts(index: str) -> Partitions:
    return Partitions(index, window_days=30, partition_days=15)


def new_store(es: Elasticsearch, index: str, clock: Callable[[], float] = time.time
              ) -> ElasticsearchStore:
    return ElasticsearchStore(es, parts(index), clock=clock)


def es_stage(es: Elasticsearch, index: str) -> tuple[DedupStage, ElasticsearchStore]:
    store = new_store(es, index)
    return DedupStage(store, threshold=THRESHOLD), store


# --- generated corpus: stories of random words, and copies of them ----------------------------

_SYLLABLES = ["ka", "lo", "mi", "ster", "an", "dre", "vo", "pi", "tur", "el", "sa", "gon", "ri"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _story(rng: random.Random, vocabulary: list[str], words: int = 200) -> str:
    text = rng.choices(vocabulary, k=words)
    paragraphs = [" ".join(text[i : i + 40]) + "." for i in range(0, words, 40)]
    return "\n\n".join(paragraphs)


def _near(rng: random.Random, vocabulary: list[str], body: str, edits: int = 2) -> str:
    words = body.split(" ")
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(vocabulary)
    return " ".join(words)


def _trim(body: str) -> str:
    words = body.split(" ")
    return " ".join(words[: len(words) * 19 // 20])


def _article(url: str, body: str) -> CleanArticle:
    return CleanArticle(
        id=article_id(url),
        url=url,
        canonical_url=canonical_url(url),
        source=source_of(url),
        title="headline",
        body=body,
        word_count=len(body.split()),
    )


def corpus(seed: int, stories: int) -> tuple[list[CleanArticle], dict[str, int]]:
    """Articles in a shuffled order, and the story each one is a copy of."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    articles: list[CleanArticle] = []
    story_of: dict[str, int] = {}
    for n in range(stories):
        body = _story(rng, vocabulary)
        variants = [body, body, _near(rng, vocabulary, body), _trim(body)][: rng.randint(1, 4)]
        for v, text in enumerate(variants):
            a = _article(f"https://s{v}.example/{seed}/{n}", text)
            articles.append(a)
            story_of[a.id] = n
    rng.shuffle(articles)
    return articles, story_of


def emitted(stage: DedupStage, batch: list[CleanArticle]) -> list[DedupedArticle]:
    out = []
    for outcome in stage.process(batch):
        assert isinstance(outcome, Emit), outcome
        out.append(outcome.article)
    return out


def decision(a: DedupedArticle) -> tuple[object, ...]:
    return (a.id, a.cluster_id, a.is_duplicate, a.duplicate_of, a.similarity, a.duplicate_kind)


def batches(articles: list[CleanArticle], size: int) -> Iterator[list[CleanArticle]]:
    for i in range(0, len(articles), size):
        yield articles[i : i + size]


# --- tests ------------------------------------------------------------------------------------


def test_state_index_is_created_with_the_explicit_mapping(es: Elasticsearch, index: str) -> None:
    new_store(es, index)
    index = new_store(es, index).index  # a second replica finds it there
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"] == STATE_MAPPINGS["properties"]
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["number_of_replicas"] == "0"
    # Never searched, only read by real-time mget (the other tests here decide on writes no
    # refresh made visible): no periodic refresh.
    assert settings["refresh_interval"] == "-1"


def test_elasticsearch_store_decides_like_the_memory_store(es: Elasticsearch, index: str) -> None:
    articles, story_of = corpus(seed=1, stories=120)
    memory = DedupStage(MemoryStore(), threshold=THRESHOLD)
    stage, store = es_stage(es, index)
    from_memory: list[DedupedArticle] = []
    from_es: list[DedupedArticle] = []
    for batch in batches(articles, 50):
        from_memory += emitted(memory, batch)
        before = store.round_trips
        from_es += emitted(stage, batch)
        assert store.round_trips - before <= 3  # per batch, not per article
    assert [decision(a) for a in from_es] == [decision(a) for a in from_memory]
    # And the decisions are right: never two stories in one cluster, and nearly always one
    # cluster per story (a near copy and a trimmed copy can be too far apart from each other
    # when they come before the original; clusters are never merged afterwards).
    clusters: dict[int, set[str]] = {}
    for a in from_es:
        clusters.setdefault(story_of[a.id], set()).add(a.cluster_id)
    all_ids = [c for cs in clusters.values() for c in cs]
    assert len(set(all_ids)) == len(all_ids)
    assert sum(len(c) > 1 for c in clusters.values()) <= len(clusters) // 20
    # A replay against the stored state gives the same answers, writing nothing.
    again = DedupStage(new_store(es, index), threshold=THRESHOLD)
    assert [decision(a) for a in emitted(again, articles[:50])] == [
        decision(a) for a in from_es[:50]
    ]


def test_two_replicas_put_near_duplicates_in_one_cluster(es: Elasticsearch, index: str) -> None:
    rng = random.Random(2)
    vocabulary = _vocabulary(rng)
    body = _story(rng, vocabulary)
    other = _story(rng, vocabulary)
    replica_a, _ = es_stage(es, index)
    replica_b = DedupStage(
        new_store(Elasticsearch(ES_URL, request_timeout=30), index), threshold=THRESHOLD
    )
    (first, unrelated) = emitted(
        replica_a, [_article("https://a.example/1", body), _article("https://a.example/2", other)]
    )
    near, exact, replay = emitted(
        replica_b,
        [
            _article("https://b.example/1", _near(rng, vocabulary, body)),
            _article("https://c.example/1", body),
            _article("https://a.example/1", body),
        ],
    )
    assert not first.is_duplicate and not unrelated.is_duplicate
    assert near.duplicate_kind == "near" and near.duplicate_of == first.id
    assert near.cluster_id == first.cluster_id == first.id
    assert exact.duplicate_kind == "exact" and exact.duplicate_of == first.id
    assert exact.cluster_id == first.id
    assert decision(replay) == decision(first)


def _race(
    index: str, left: list[CleanArticle], right: list[CleanArticle]
) -> tuple[list[DedupedArticle], list[DedupedArticle]]:
    """Each batch decided by its own replica (own client, own store), both at once."""
    start = threading.Barrier(2)
    results: dict[int, list[DedupedArticle]] = {}
    errors: list[BaseException] = []

    def replica(me: int, batch: list[CleanArticle]) -> None:
        client = Elasticsearch(ES_URL, request_timeout=30)
        try:
            stage = DedupStage(new_store(client, index), threshold=THRESHOLD)
            start.wait()
            results[me] = emitted(stage, batch)
        except BaseException as error:  # re-raised below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=replica, args=(n, b)) for n, b in enumerate((left, right))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results[0], results[1]


def test_replicas_racing_on_one_index_agree(es: Elasticsearch, index: str) -> None:
    """Two replicas decide copies of the same stories at the same moment."""
    rng = random.Random(3)
    vocabulary = _vocabulary(rng)
    for round_ in range(5):
        bodies = [_story(rng, vocabulary) for _ in range(40)]
        left = [_article(f"https://l.example/{round_}/{i}", b) for i, b in enumerate(bodies)]
        right = [
            _article(f"https://r.example/{round_}/{i}", b if i % 2 else _near(rng, vocabulary, b))
            for i, b in enumerate(bodies)
        ]
        from_left, from_right = _race(index, left, right)
        for a, b in zip(from_left, from_right, strict=True):
            assert a.cluster_id == b.cluster_id, (a.id, b.id)
            assert a.cluster_id in {a.id, b.id}
            assert [a.is_duplicate, b.is_duplicate].count(True) == 1
        # What was emitted is what a replay returns.
        replay = DedupStage(new_store(es, index), threshold=THRESHOLD)
        stored = emitted(replay, left + right)
        assert [decision(x) for x in stored] == [decision(x) for x in from_left + from_right]


def test_replicas_handling_the_same_messages_agree(es: Elasticsearch, index: str) -> None:
    """A redelivery after a rebalance: both replicas get the same batch at the same moment."""
    articles, _ = corpus(seed=4, stories=40)
    first, second = _race(index, articles, articles)
    assert [decision(a) for a in first] == [decision(a) for a in second]


class Clock:
    """Days since the epoch as the store's clock: state written "in the past", no sleeping."""

    def __init__(self, day: float) -> None:
        self.day = day

    def __call__(self) -> float:
        return self.day * DAY


def test_fingerprints_stop_being_candidates_after_the_window(
    es: Elasticsearch, index: str
) -> None:
    rng = random.Random(5)
    vocabulary = _vocabulary(rng)
    body = _story(rng, vocabulary)
    clock = Clock(19_995)  # 2024-09-29, the first day of a 15-day partition
    stage = DedupStage(new_store(es, index, clock), threshold=THRESHOLD)
    (original,) = emitted(stage, [_article("https://a.example/old", body)])
    first_partition = parts(index).current(clock())
    assert es.indices.exists(index=first_partition)

    clock.day += 29  # within the window: a near copy and an exact copy are found
    near, exact = emitted(stage, [_article("https://b.example/1", _near(rng, vocabulary, body)),
                                  _article("https://c.example/1", body)])
    assert (near.duplicate_kind, near.duplicate_of) == ("near", original.id)
    assert (exact.duplicate_kind, exact.duplicate_of) == ("exact", original.id)
    assert es.indices.exists(index=first_partition)

    # Another replica started after every day of the first partition left the 30-day window
    # (and the one of the copies above, too).
    later = Clock(clock.day + 46)
    other = DedupStage(new_store(Elasticsearch(ES_URL, request_timeout=30), index, later),
                       threshold=THRESHOLD)
    assert not es.indices.exists(index=first_partition)  # deleted whole
    assert es.indices.get(index=f"{index}-*").keys() == {parts(index).current(later())}
    again, copy = emitted(other, [_article("https://d.example/1", _near(rng, vocabulary, body)),
                                  _article("https://e.example/1", body)])
    assert not again.is_duplicate and again.cluster_id == again.id
    # The exact copy of the original now joins the near copy, the only story in the window.
    assert (copy.duplicate_kind, copy.duplicate_of) == ("near", again.id)
