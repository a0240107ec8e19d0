"""The ``backfill`` flow against the real Kafka, Elasticsearch and Prefect, with real workers."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from flows import publish as pub
from flows.backfill import Checkpoint, backfill_flow
from newsflow.config import load_settings
from schemas.articles import article_id
from workers.io import elastic

from .conftest import REPO, Pipeline, wait_for

pytestmark = pytest.mark.integration

# Where the rest of the project looks for the shared data too (NEWSFLOW_SHARED_DIR).
REUTERS = (REPO / load_settings().shared_dir).resolve() / "data" / "reuters21578" / \
    "reuters21578.jsonl.gz"
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _topic_size(pipeline: Pipeline, kind: str) -> int:
    topic = pipeline.settings.topic(kind)
    consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def _articles(n: int, tag: str) -> list[dict]:
    words = ("The harbour authority said on {day} that cargo volumes in {place} rose again as "
             "shipping lines added calls, and officials expected the new terminal to open "
             "before the end of the year after delays caused by the weather.")
    return [{"url": f"https://{tag}.example/story/{i}", "title": f"Cargo story {i}",
             "text": f"Story number {i}. " + words.format(day=f"day {i}", place=f"port {i}"),
             "source": f"{tag}.example", "published_at": f"2024-05-0{1 + i % 9}T10:00:00Z"}
            for i in range(n)]


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _lean(pipeline: Pipeline) -> None:
    # No NER model: these tests are about moving articles, and spaCy would only slow them.
    pipeline.settings = pipeline.settings.model_copy(update={"entities_enabled": False})


def test_reuters_week_of_1987_indexes_exactly_that_week(pipeline: Pipeline, tmp_path: Path):
    assert REUTERS.exists(), f"the shared corpus is needed here: {REUTERS}"
    since, until = datetime(1987, 4, 27, tzinfo=UTC), datetime(1987, 5, 4, tzinfo=UTC)
    # The week's records, found here independently of newsflow.archives (day and month only).
    week = set()
    with gzip.open(REUTERS, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            day, month, rest = rec["date"].strip().split("-", 2)
            when = datetime(int(rest[:4]), _MONTHS.index(month.upper()) + 1, int(day),
                            tzinfo=UTC)
            if since <= when < until:
                week.add(article_id(f"https://reuters21578.invalid/newid/{rec['newid']}"))
    assert 100 < len(week) < 400

    _lean(pipeline)
    pipeline.start()
    report = backfill_flow(paths=[str(REUTERS)], since=since, until=until, rate=None,
                           checkpoint=str(tmp_path / "cp.json"), settings=pipeline.settings)
    assert report["total"] == report["published"] == len(week)
    assert set(report["ids"]) == week

    es = elastic.client(pipeline.settings)
    alias = pipeline.settings.es_alias
    # Every record ends indexed or skipped (the title-only ones are too short): wait for both.
    wait_for(lambda: elastic.count(es, pipeline.settings) + _topic_size(pipeline, "skipped")
             >= len(week), timeout=300, what="every record of the week indexed or skipped")
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, source=["published_at", "source"])["hits"]["hits"]
    indexed = {h["_id"] for h in hits}
    skipped = {json.loads(r.value)["id"]
               for r in pipeline.read_topic("skipped", _topic_size(pipeline, "skipped"))}
    assert indexed | skipped == week and not indexed & skipped
    assert len(indexed) > len(week) / 2
    for hit in hits:
        published = datetime.fromisoformat(hit["_source"]["published_at"])
        assert since <= published < until
        assert hit["_source"]["source"] == "Reuters newswire (1987)"
    assert _topic_size(pipeline, "dlq") == 0


def test_killed_backfill_resumes_from_its_checkpoint_without_duplicates(
    pipeline: Pipeline, tmp_path: Path
):
    records = _articles(60, "resume")
    archive = _write_jsonl(tmp_path / "archive.jsonl", records)
    checkpoint = tmp_path / "checkpoint.json"
    _lean(pipeline)
    pipeline.start()

    # The CLI, as an operator runs it, killed hard (no clean shutdown) part way through.
    cli = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "backfill", str(archive), "--rate", "6",
         "--batch-size", "5", "--checkpoint", str(checkpoint)],
        env=pipeline.env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: checkpoint.exists()
                 and json.loads(checkpoint.read_text())["published"] >= 15,
                 timeout=120, what="the first batches checkpointed")
    finally:
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
    first = json.loads(checkpoint.read_text())
    assert 15 <= first["published"] < 60 and not first["done"]

    report = backfill_flow(paths=[str(archive)], rate=None, batch_size=5,
                           checkpoint=str(checkpoint), settings=pipeline.settings)
    assert report["resumed"]
    assert report["published_now"] == 60 - first["published"]
    assert report["published"] == 60
    assert json.loads(checkpoint.read_text())["done"]

    # Only a batch in flight at the kill may have gone out twice; the index has each once.
    assert 60 <= _topic_size(pipeline, "raw") <= 60 + 5
    expected = {article_id(r["url"]) for r in records}
    es = elastic.client(pipeline.settings)
    wait_for(lambda: elastic.count(es, pipeline.settings) >= 60, timeout=180, what="indexed")
    es.indices.refresh(index=pipeline.settings.es_alias)
    ids = [h["_id"] for h in es.search(index=pipeline.settings.es_alias, size=100,
                                       source=False)["hits"]["hits"]]
    assert sorted(ids) == sorted(expected)

    # Run again once complete: nothing more is sent.
    again = backfill_flow(paths=[str(archive)], rate=None, batch_size=5,
                          checkpoint=str(checkpoint), settings=pipeline.settings)
    assert again["published_now"] == 0 and _topic_size(pipeline, "raw") <= 65


def test_live_articles_are_indexed_while_a_backfill_runs(pipeline: Pipeline, tmp_path: Path):
    archive = _write_jsonl(tmp_path / "history.jsonl", _articles(400, "history"))
    checkpoint = tmp_path / "checkpoint.json"
    _lean(pipeline)
    pipeline.start()
    es = elastic.client(pipeline.settings)
    # Workers up and warm (models loaded) before the clock matters.
    warm = _articles(1, "warmup")[0]
    pub.publish(pipeline.settings, [json.dumps(warm).encode()])
    wait_for(lambda: es.count(index=pipeline.settings.es_alias,
                              query={"ids": {"values": [article_id(warm["url"])]}})["count"],
             timeout=180, what="the warm-up article indexed")
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(backfill_flow(
        paths=[str(archive)], rate=8, batch_size=8, checkpoint=str(checkpoint),
        settings=pipeline.settings)))
    runner.start()
    try:
        wait_for(lambda: checkpoint.exists()
                 and json.loads(checkpoint.read_text())["published"] >= 16,
                 timeout=60, what="the backfill under way")
        live = _articles(1, "live")[0]
        sent_at = time.monotonic()
        pub.publish(pipeline.settings, [json.dumps(live).encode()])
        wait_for(lambda: es.count(index=pipeline.settings.es_alias,
                                  query={"ids": {"values": [article_id(live["url"])]}})["count"],
                 timeout=120, what="the live article indexed")
        lag = time.monotonic() - sent_at
        during = json.loads(checkpoint.read_text())
        # Bounded: the live article was searchable while the backfill still had most to send.
        assert not during["done"] and during["published"] < 400, during
        print(f"live article searchable after {lag:.1f}s, backfill at {during['published']}/400")
    finally:
        runner.join(timeout=180)
    assert result["published"] == 400


def test_kafka_backfill_republishes_a_time_range(pipeline: Pipeline, tmp_path: Path):
    first, second = _articles(6, "early"), _articles(4, "late")
    pub.publish(pipeline.settings, [json.dumps(r).encode() for r in first])
    time.sleep(1.5)
    middle = datetime.now(UTC)
    time.sleep(1.5)
    pub.publish(pipeline.settings, [json.dumps(r).encode() for r in second])
    time.sleep(1.5)
    until = datetime.now(UTC)
    checkpoint = tmp_path / "kafka.json"
    report = backfill_flow(kafka=True, since=middle, until=until, rate=None, batch_size=2,
                           checkpoint=str(checkpoint), settings=pipeline.settings,
                           stop_after=2)
    assert report["total"] == 4 and report["published_now"] == 2
    report = backfill_flow(kafka=True, since=middle, until=until, rate=None, batch_size=2,
                           checkpoint=str(checkpoint), settings=pipeline.settings)
    assert report["resumed"] and report["published"] == 4
    assert _topic_size(pipeline, "raw") == 10 + 4
    recent = pipeline.read_topic("raw", 14)[-14:]
    republished = [r for r in recent if r.timestamp >= int(until.timestamp() * 1000)]
    assert sorted(json.loads(r.value)["url"] for r in republished) == sorted(
        r["url"] for r in second)
    assert Checkpoint.model_validate_json(checkpoint.read_text()).done
