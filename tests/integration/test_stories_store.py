"""The stories' shared state in a real Elasticsearch: joins from many hands at once add up,
the founding lock lets one holder in at a time and is taken over once its lease is out."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from newsflow.config import Settings
from workers.io import elastic
from workers.stories.es_store import LOCK_ID, ElasticsearchStore
from workers.stories.store import Member, founded

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(base_settings: Settings) -> Iterator[tuple[ElasticsearchStore, ElasticsearchStore]]:
    settings = base_settings.model_copy(update={"es_alias": f"news-s{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    try:
        yield (ElasticsearchStore(es, settings.stories_index),
               ElasticsearchStore(elastic.client(settings), settings.stories_index))
    finally:
        elastic.drop_index(es, settings)


def member(n: int, source: str) -> Member:
    vector = [0.0] * 256
    vector[n % 256] = 1.0
    return Member(f"a{n}", source, "en", f"title {n}", f"text {n}", vector, 1_760_000_000.0 + n)


def test_joins_from_two_replicas_at_once_all_count(stores) -> None:
    one, two = stores
    one.create([founded(member(0, "founder.example"))])
    story_id = "s-a0"

    def join(store: ElasticsearchStore, first: int) -> None:
        for n in range(first, first + 15):
            store.join([(story_id, member(n, f"outlet{n % 4}.example"))])

    threads = [threading.Thread(target=join, args=(s, f)) for s, f in ((one, 1), (two, 100))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = one.es.get(index=one.index, id=story_id)["_source"]
    assert doc["size"] == 31
    # Read back whole each time, the vector is the mean of all 31, not of the last join.
    assert sum(1 for v in doc["vector"] if v > 0) == 31
    assert set(doc["sources"]) == {"founder.example", *(f"outlet{i}.example" for i in range(4))}


def test_the_founding_lock_has_one_holder_at_a_time(stores) -> None:
    one, two = stores
    inside: list[str] = []
    overlaps = []

    def found(store: ElasticsearchStore, name: str) -> None:
        for _ in range(5):
            with store.founding():
                inside.append(name)
                if len(inside) > 1:
                    overlaps.append(list(inside))
                time.sleep(0.02)
                inside.remove(name)

    threads = [threading.Thread(target=found, args=(s, n)) for s, n in ((one, "1"), (two, "2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert not one.es.exists(index=one.lock_index, id=LOCK_ID)  # let go at the end


def test_a_lock_whose_lease_ran_out_is_taken_over(stores) -> None:
    one, two = stores
    one.es.index(index=one.lock_index, id=LOCK_ID, refresh=True,
                 document={"owner": "a worker that died", "expires_at": 0})
    with two.founding():
        held = two.es.get(index=two.lock_index, id=LOCK_ID)["_source"]
        assert held["owner"] == two.owner


def test_an_outlet_name_too_long_to_index_does_not_make_its_story_unwritable(stores) -> None:
    one, _ = stores
    huge = member(1, "s" * 40_000)  # an article whose source no keyword field would index
    one.create([founded(huge)])
    one.join([("s-a1", member(2, "t" * 40_000))])
    doc = one.es.get(index=one.index, id="s-a1")["_source"]
    assert doc["size"] == 2 and len(doc["sources"]) == 2
