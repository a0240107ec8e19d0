"""What outside producers send that is not an article, through the real pipeline: URLs that are
not web pages are dead-lettered as ``invalid`` with their original bytes, binary noise sent
as text is skipped as ``not-text``, and neither reaches the index."""

from __future__ import annotations

import base64
import json
import random

import pytest

from flows.publish import publish
from schemas.articles import SkipRecord, article_id
from workers.io import elastic

from .conftest import Pipeline, wait_for

pytestmark = pytest.mark.integration

TEXT = (
    "The regional parliament approved the new water law on Thursday after a debate of almost "
    "nine hours. The law caps what farms may draw from the river in dry summers and sets up a "
    "fund to repair leaking village pipes, which lose about a third of their water."
)
BAD_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.org/files/story.txt",
    "/news/2025/water-law",
    "example.org/news/water-law",
    "//example.org/news/water-law",
    "https://example.org/water law",
    "https://editor:secret@example.org/news/water-law",
    "https://",
]
RND = random.Random(3)
NOISE = {
    "bytes-latin1": RND.randbytes(5000).decode("latin-1"),
    "bytes-utf8": RND.randbytes(5000).decode("utf-8", "replace"),
    "controls": "".join(chr(RND.randrange(32)) for _ in range(3000)),
    "base64": base64.b64encode(RND.randbytes(3000)).decode(),
}


def test_bad_urls_are_dead_lettered_and_noise_is_skipped(pipeline: Pipeline) -> None:
    pipeline.settings = pipeline.settings.model_copy(update={"entities_enabled": False})
    pipeline.start()
    good = [{"url": f"https://example.org/news/good-{i}", "title": f"Water law {i}",
             "text": TEXT} for i in range(2)]
    bad = [json.dumps({"url": url, "title": "Water law", "text": TEXT}).encode()
           for url in BAD_URLS]
    noise = {kind: {"url": f"https://example.org/noise/{kind}", "text": text}
             for kind, text in NOISE.items()}
    publish(pipeline.settings, [json.dumps(good[0]).encode(), *bad,
                                *(json.dumps(n).encode() for n in noise.values()),
                                json.dumps(good[1]).encode()])

    dead = pipeline.read_topic("dlq", expect=len(bad))
    assert sorted(r.value for r in dead) == sorted(bad)  # the original bytes, each once
    for record in dead:
        headers = dict(record.headers)
        assert headers["newsflow.reason"] == b"invalid", record.value
        assert headers["newsflow.stage"] == b"clean"
        assert headers["newsflow.error"].startswith(b"url: Value error")

    skipped = [SkipRecord.model_validate_json(r.value)
               for r in pipeline.read_topic("skipped", expect=len(noise))]
    assert {s.url: s.reason for s in skipped} == {n["url"]: "not-text" for n in noise.values()}

    es = elastic.client(pipeline.settings)
    alias = pipeline.settings.es_alias
    wait_for(lambda: es.count(index=alias)["count"] >= len(good), what="the good articles")
    hits = es.search(index=alias, size=100)["hits"]["hits"]
    assert {h["_id"] for h in hits} == {article_id(g["url"]) for g in good}
    assert {h["_source"]["url"] for h in hits} == {g["url"] for g in good}
