"""The whole pipeline on the real services: publish to news.raw, find it through the alias."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flows.publish import publish
from flows.seeds import seed_lines
from newsflow.search import search
from schemas.articles import article_id
from workers.io import elastic
from workers.topology import STAGES

from .conftest import REPO, Pipeline, jsonl, wait_for

pytestmark = pytest.mark.integration

GOOD = {
    "url": "https://example.org/2025/03/harbour-strike",
    "title": "Dock workers in Hamburg end three-day strike",
    "source": "example.org",
    "published_at": "2025-03-08T09:00:00Z",
    "text": (
        "Dock workers in Hamburg returned to work on Saturday after a three-day strike that "
        "halted container traffic at Germany's largest port. The union Verdi said it had "
        "reached an agreement with the port operators on wages and shift patterns, and that "
        "members would vote on the deal next week. Shipping lines warned that the backlog of "
        "vessels waiting outside the Elbe estuary would take several days to clear."
    ),
}


def indexed(pipe: Pipeline, ids: list[str]) -> int:
    es = elastic.client(pipe.settings)
    return int(es.count(index=pipe.settings.es_alias, query={"ids": {"values": ids}})["count"])


def test_seed_article_is_searchable_with_its_entity_facets(pipeline: Pipeline):
    pipeline.start()
    messages = seed_lines(pipeline.settings.shared_dir)
    report = publish(pipeline.settings, messages)
    assert report.published == len(messages) == 6
    seed_id = json.loads(messages[0])["url"]
    wait_for(lambda: indexed(pipeline, report.ids) == len(report.ids), what="seeds indexed")

    es = elastic.client(pipeline.settings)
    result = search(es, pipeline.settings.es_alias, "Latakia")
    assert [h.id for h in result.hits] == [article_id(seed_id)]
    doc = es.get(index=pipeline.settings.es_alias, id=article_id(seed_id))["_source"]
    assert "Latakia" in doc["body"] and doc["source"] == "Anadolu Agency"
    assert {"Syria", "Iraq"} <= set(doc["locations"])
    assert "Qasim al-Araji" in doc["persons"]
    assert result.facets["locations"] and ("Syria", 1) in result.facets["locations"]

    # The syndicated copy of the Rotterdam story is indexed, marked, and in its cluster.
    everything = search(es, pipeline.settings.es_alias, "Rotterdam terminal", size=10)
    rotterdam = [
        es.get(index=pipeline.settings.es_alias, id=h.id)["_source"]
        for h in everything.hits
        if "Rotterdam" in (h.title or "")
    ]
    assert len(rotterdam) == 2
    assert len({d["cluster_id"] for d in rotterdam}) == 1
    assert sorted(d["is_duplicate"] for d in rotterdam) == [False, True]


def test_bad_messages_are_dead_lettered_and_the_pipeline_goes_on(pipeline: Pipeline):
    pipeline.start()
    not_json = b'{"url": "https://example.org/broken", "text": '
    no_url = json.dumps({"title": "No address", "text": "Some text without a URL."}).encode()
    report = publish(pipeline.settings, [not_json, no_url, *jsonl([GOOD])])
    wait_for(lambda: indexed(pipeline, report.ids) == 1, what="the good article indexed")

    dead = pipeline.read_topic("dlq", expect=2)
    assert sorted(r.value for r in dead) == sorted([not_json, no_url])  # original bytes
    by_value = {r.value: dict(r.headers) for r in dead}
    assert by_value[not_json]["newsflow.stage"] == b"clean"
    assert by_value[not_json]["newsflow.reason"] == b"not-json"
    assert by_value[not_json]["newsflow.error_type"] == b"JSONDecodeError"
    assert by_value[no_url]["newsflow.reason"] == b"invalid"
    assert b"url: Field required" in by_value[no_url]["newsflow.error"]
    assert len(dead) == 2


def test_publishing_the_same_article_twice_leaves_one_document(pipeline: Pipeline):
    pipeline.start()
    replay = dict(GOOD, url=GOOD["url"] + "?utm_source=newsletter")  # same canonical URL
    report = publish(pipeline.settings, jsonl([GOOD, replay]))
    assert len(set(report.ids)) == 1
    wait_for(
        lambda: len(pipeline.read_topic("enriched", expect=2, timeout=1)) == 2,
        what="both copies through the pipeline",
    )
    es = elastic.client(pipeline.settings)
    wait_for(lambda: indexed(pipeline, report.ids) == 1, what="indexed")
    es.indices.refresh(index=pipeline.settings.es_alias)
    assert es.count(index=pipeline.settings.es_alias)["count"] == 1


@pytest.mark.parametrize("pipeline", [{"partitions": 1}], indirect=True)
def test_offline_jsonl_mode_gives_the_worker_path_output(pipeline: Pipeline, tmp_path):
    """One partition, so the workers see the articles in the order the file has them."""
    pipeline.start()
    messages = seed_lines(pipeline.settings.shared_dir)
    report = publish(pipeline.settings, messages)
    wait_for(lambda: indexed(pipeline, report.ids) == len(report.ids), what="seeds indexed")

    topics = ["raw", "clean", "deduped", "enriched", "storied"]
    records = {kind: pipeline.read_topic(kind, expect=len(messages)) for kind in topics}
    es = elastic.client(pipeline.settings)
    indexed_docs = {
        h["_id"]: h["_source"]
        for h in es.search(index=pipeline.settings.es_alias, size=100)["hits"]["hits"]
    }

    env = pipeline.env()
    for stage, spec in STAGES.items():
        inp, out = spec.input, spec.output
        in_file, out_file = tmp_path / f"{stage}.in.jsonl", tmp_path / f"{stage}.out.jsonl"
        in_file.write_bytes(b"".join(r.value + b"\n" for r in records[inp]))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "newsflow",
                "worker",
                stage,
                "--input",
                str(in_file),
                "--output",
                str(out_file),
            ],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        offline = [json.loads(line) for line in out_file.read_text().splitlines()]
        if out is not None:
            online = [json.loads(r.value) for r in records[out]]
        else:
            online = [indexed_docs[d["id"]] for d in offline]
            for doc in offline + online:
                doc.pop("indexed_at")
        assert offline == online, f"stage {stage}: offline output differs from the worker's"
        assert len(offline) == len(messages)


def test_kafkas_own_console_producer_can_publish_articles(pipeline: Pipeline):
    from newsflow import stack

    pipeline.start()
    record = dict(GOOD, url="https://example.org/console-producer")
    java = stack.find_java_home("kafka") / "bin" / "java"
    libs = pipeline.settings.stack_dir.resolve() / "kafka" / "libs" / "*"
    subprocess.run(
        [str(java), "-cp", str(libs), "org.apache.kafka.tools.ConsoleProducer",
         "--bootstrap-server", pipeline.settings.kafka_bootstrap,
         "--topic", pipeline.settings.topic("raw")],
        input=json.dumps(record).encode() + b"\n", check=True, capture_output=True, timeout=120,
    )
    wait_for(lambda: indexed(pipeline, [article_id(record["url"])]) == 1, what="indexed")


def test_an_oversized_message_is_dead_lettered_whole(pipeline: Pipeline):
    pipeline.start()
    limit = pipeline.settings.max_message_bytes
    huge = json.dumps(dict(GOOD, url="https://example.org/huge",
                           text="word " * (limit // 5 + 1000))).encode()
    assert len(huge) > limit
    report = publish(pipeline.settings, [huge, *jsonl([GOOD])])
    wait_for(lambda: indexed(pipeline, [article_id(GOOD["url"])]) == 1, what="good one indexed")
    [dead] = pipeline.read_topic("dlq", expect=1)
    assert dead.value == huge and dead.key == report.ids[0].encode()
    assert dict(dead.headers)["newsflow.reason"] == b"too-large"
