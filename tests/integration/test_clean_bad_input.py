"""Bad input through a real clean worker on Kafka: every message ends with a reason (skipped
or dead-lettered), and the good articles around them still come out on news.clean."""

from __future__ import annotations

import json

import pytest

from flows.publish import publish
from schemas.articles import CleanArticle, SkipRecord, article_id

from .conftest import Pipeline, jsonl

pytestmark = pytest.mark.integration

STORY = (
    "The regional parliament approved the new water law on Thursday after a debate of almost "
    "nine hours. The law caps what farms may draw from the river in dry summers and sets up "
    "a fund to repair leaking village pipes, which lose about a third of their water."
)
PAGE = (
    "<html><head><title>Water law passes</title></head><body><nav><a href='/'>Home</a></nav>"
    f"<article><h1>Water law passes</h1><p>{STORY}</p><p>Read more: Drought hits farms</p>"
    "<p>Photo: Jane Doe/Example Agency</p></article><footer>Subscribe now</footer></body></html>"
)


def url(name: str) -> str:
    return f"https://example.org/bad-input/{name}"


def test_bad_input_gets_a_reason_and_the_worker_goes_on(pipeline: Pipeline):
    pipeline.start_worker("clean")
    limit = pipeline.settings.max_message_bytes
    skipped_cases = {
        "binary": {"url": url("binary"), "html": bytes(range(256)).decode("latin-1") * 64},
        "not-html": {"url": url("pdf"), "html": "%PDF-1.7 1 0 obj << /Type /Catalog >> endobj"},
        "not-article": {"url": url("shell"), "html": "<html><body><div id=app></div></body>"},
        "empty": {"url": url("only-boilerplate"), "text": "Share this article\n\nSubscribe now"},
    }
    dead_values = [
        b"\xff\xfe\x00binary\x00bytes",  # not JSON at all
        json.dumps({"url": url("latin1"), "text": "café " * 30}, ensure_ascii=False).encode(
            "latin-1"
        ),  # declared nowhere, and not UTF-8
        json.dumps({"url": url("empty"), "html": "   "}).encode(),  # empty payload
        json.dumps({"url": url("huge"), "html": "<p>word</p>" * (limit // 11 + 10)}).encode(),
    ]
    good = [
        {"url": url("good-html"), "html": PAGE},
        {"url": url("good-text"), "title": "Water law passes", "text": STORY},
    ]
    # Good articles before and after the bad ones: the worker must not stop on the way.
    publish(
        pipeline.settings,
        [*jsonl(good[:1]), *dead_values, *jsonl(list(skipped_cases.values())), *jsonl(good[1:])],
    )

    clean = [CleanArticle.model_validate_json(r.value) for r in pipeline.read_topic("clean", 2)]
    assert sorted(a.id for a in clean) == sorted(article_id(g["url"]) for g in good)
    html_article = next(a for a in clean if a.url == url("good-html"))
    assert html_article.body == STORY
    assert html_article.metadata["credits"] == ["Photo: Jane Doe/Example Agency"]

    skipped = [SkipRecord.model_validate_json(r.value) for r in pipeline.read_topic("skipped", 4)]
    assert {s.url: s.reason for s in skipped} == {
        case["url"]: reason for reason, case in skipped_cases.items()
    }
    assert all(s.stage == "clean" and s.detail for s in skipped)

    dead = pipeline.read_topic("dlq", expect=len(dead_values))
    reasons = {r.value: dict(r.headers)["newsflow.reason"] for r in dead}
    assert reasons == {
        dead_values[0]: b"not-json",
        dead_values[1]: b"not-json",
        dead_values[2]: b"invalid",
        dead_values[3]: b"too-large",
    }
