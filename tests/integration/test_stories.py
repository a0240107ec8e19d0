"""The stories stage with real Kafka, Elasticsearch and worker processes.

- Two ``newsflow worker stories`` replicas in one group, each given one telling of the same
  events at the same moment: every event ends as one story, none founded twice.
- The whole pipeline: the seed article, our own rewrite of its event and an unrelated article
  come out of ``newsflow search --collapse`` as two stories, the first with two outlets;
  ``newsflow story`` lists both of its articles.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer
from typer.testing import CliRunner

from flows.seeds import seed_article
from newsflow import cli
from newsflow.config import Settings
from schemas.articles import EnrichedArticle, StoriedArticle
from tests.unit.workers.stories.samples import OTHER, SEED_REWRITE, enriched, event_pairs
from workers.io import elastic
from workers.settings import settings_env
from workers.stories.store import story_id_of

from .conftest import Pipeline, group_partitions, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 10


def publish(settings: Settings, kind: str, placed: list[tuple[bytes, bytes, int | None]]
            ) -> None:
    """All in one go, so that replicas get theirs at the same moment."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=50)
    try:
        for key, value, partition in placed:
            producer.send(settings.topic(kind), key=key, value=value, partition=partition)
        producer.flush()
    finally:
        producer.close()


def test_two_replicas_given_one_new_event_each_found_one_story_between_them(
        pipeline: Pipeline) -> None:
    pipeline.start_worker("stories")
    pipeline.start_worker("stories")
    (a, *_), (b, *_) = group_partitions(pipeline.settings, "stories", replicas=2)
    events = event_pairs(EVENTS)
    firsts = [enriched(f"https://one.example/{n}", x) for n, (x, _) in enumerate(events)]
    seconds = [enriched(f"https://two.example/{n}", y) for n, (_, y) in enumerate(events)]
    placed: list[tuple[EnrichedArticle, int]] = [(x, a) for x in firsts] + [
        (y, b) for y in seconds]
    publish(pipeline.settings, "enriched",
            [(art.id.encode(), art.to_bytes(), part) for art, part in placed])

    records = pipeline.read_topic("storied", expect=2 * EVENTS, timeout=120)
    assert len(records) == 2 * EVENTS, pipeline.worker_logs()
    out = {s.id: s for s in (StoriedArticle.model_validate_json(r.value) for r in records)}
    stories = set()
    for x, y in zip(firsts, seconds, strict=True):
        assert out[x.id].story_id == out[y.id].story_id, (out[x.id].title, out[y.id].title)
        assert out[x.id].story_id in (story_id_of(x.id), story_id_of(y.id))
        stories.add(out[x.id].story_id)
    assert len(stories) == EVENTS
    # The shared state agrees: one story per event, each of two articles from two outlets.
    es = elastic.client(pipeline.settings)
    index = pipeline.settings.stories_index
    es.indices.refresh(index=index)
    docs = [h["_source"] for h in es.search(index=index, size=100)["hits"]["hits"]]
    assert sorted(d["story_id"] for d in docs) == sorted(stories)
    assert all(d["size"] == 2 and len(d["sources"]) == 2 for d in docs)
    assert not any("merged_into" in d for d in docs)


def _cli(settings: Settings, *args: str) -> str:
    env = {k: v for k, v in settings_env(settings).items()}
    result = CliRunner().invoke(cli.app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_seed_and_a_rewrite_collapse_into_one_story_of_two_outlets(
        pipeline: Pipeline, base_settings: Settings) -> None:
    seed = seed_article(ROOT / base_settings.shared_dir)
    rewrite = {"url": "https://baghdad-wire.example/2025/03/iraq-syria-unity",
               "title": SEED_REWRITE[0], "text": SEED_REWRITE[1], "language": "en",
               "source": "baghdad-wire.example", "published_at": "2025-03-10T09:30:00Z"}
    other = {"url": "https://alps-daily.example/2025/03/snow", "title": OTHER[0],
             "text": OTHER[1], "language": "en", "source": "alps-daily.example",
             "published_at": "2025-03-10T07:00:00Z"}
    pipeline.start()
    publish(pipeline.settings, "raw", [(r["url"].encode(), json.dumps(r).encode(), None)
                                       for r in (seed, rewrite, other)])
    es = elastic.client(pipeline.settings)
    alias = pipeline.settings.es_alias

    def indexed() -> bool:
        es.indices.refresh(index=alias)
        return elastic.count(es, pipeline.settings) == 3

    wait_for(indexed, timeout=240, what="the three articles indexed")

    found = json.loads(_cli(pipeline.settings, "search", "*", "--collapse", "--json"))
    assert found["total"] == 3 and found["stories"] == 2
    hits = {h["source"]: h for h in found["hits"]}
    assert len(found["hits"]) == 2
    syria = hits.get(seed["source"]) or hits[rewrite["source"]]
    assert syria["story_articles"] == 2 and syria["story_outlet_count"] == 2
    assert set(syria["story_outlets"]) == {seed["source"], rewrite["source"]}
    assert syria["story_languages"] == ["en"]
    assert syria["story_first_seen"].startswith("2025-03-10T06:00")  # the seed's time
    assert hits[other["source"]]["story_articles"] == 1

    table = _cli(pipeline.settings, "search", "Syria", "--collapse")
    assert "2 outlets" in table
    listed = json.loads(_cli(pipeline.settings, "story", syria["story_id"], "--json"))
    assert [a["source"] for a in listed["articles"]] == [seed["source"], rewrite["source"]]
    assert listed["story"]["articles"] == 2
