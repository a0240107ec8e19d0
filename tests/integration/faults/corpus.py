"""Distinct articles and poison messages for the audit and fault tests, made up here.

Good articles are English-looking text of random common words (distinct per seed and index,
each well over the clean stage's 20-word minimum). Poison, one of four kinds in turn, each a
real input that fails for good, no test hook needed:

- ``not-json``     truncated JSON                                   -> clean, not-json
- ``invalid``      a URL and a title but no text or html            -> clean, invalid
- ``too-large``    a text past ``settings.max_message_bytes``        -> clean, too-large
- ``index-rejected`` a ``source`` longer than Elasticsearch's 32766-byte keyword limit: it
  passes every stage and the index refuses the document (HTTP 400)  -> index, index-rejected
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from newsflow.audit import Audit, audit, indexed_ids
from newsflow.config import Settings
from schemas.articles import article_id
from workers.io import elastic
from workers.io.dead_letters import list_dead
from workers.topology import RAW

_VOCABULARY = (
    "port strike council river market energy budget court minister harbour school storm "
    "election bridge farmers railway hospital museum festival treaty coast factory league "
    "village union engineers tariff drought vaccine satellite airport forest mayor exports "
    "bank reform protest summit ferry grain pipeline election workers children coastline "
    "parliament inquiry shipping weather football orchestra library tourism housing fuel"
)
WORDS = _VOCABULARY.split(" ")

POISON_KINDS = ("not-json", "invalid", "too-large", "index-rejected")
STAGE_OF = {"not-json": "clean", "invalid": "clean", "too-large": "clean",
            "index-rejected": "index"}


@dataclass
class Corpus:
    messages: list[tuple[bytes | None, bytes]]  # (key, value), in publishing order
    good_ids: set[str]
    poison: dict[bytes, str] = field(default_factory=dict)  # value -> expected reason
    poison_ids: dict[str, str] = field(default_factory=dict)  # article id -> reason (index)


def good_article(tag: str, i: int, rng: random.Random) -> dict[str, str]:
    paragraphs = [f"Report {i} of run {tag}. " +
                  " ".join(rng.choice(WORDS) for _ in range(40)) + "." for _ in range(2)]
    return {"url": f"https://example.org/{tag}/story-{i}", "title": f"Story {i} of {tag}",
            "text": "\n\n".join(paragraphs), "source": "example.org", "language": "en"}


def make_corpus(tag: str, n: int, max_message_bytes: int, poison_every: int = 20) -> Corpus:
    """``n`` messages, one in ``poison_every`` poison (5% by default)."""
    rng = random.Random(tag)
    corpus = Corpus([], set())
    kinds = 0
    for i in range(n):
        article = good_article(tag, i, rng)
        aid = article_id(article["url"])
        if i % poison_every != poison_every - 1:
            corpus.messages.append((aid.encode(), json.dumps(article).encode()))
            corpus.good_ids.add(aid)
            continue
        kind = POISON_KINDS[kinds % len(POISON_KINDS)]
        kinds += 1
        if kind == "not-json":
            value = json.dumps(article).encode()[:60]
        elif kind == "invalid":
            value = json.dumps({"url": article["url"], "title": article["title"]}).encode()
        elif kind == "too-large":
            value = json.dumps({**article, "text": article["text"] + " filler" *
                                (max_message_bytes // 6 + 1)}).encode()
        else:
            value = json.dumps({**article, "source": "s" * 40_000}).encode()
            corpus.poison_ids[aid] = kind
        corpus.messages.append((None if kind == "not-json" else aid.encode(), value))
        corpus.poison[value] = kind
    return corpus


def publish(settings: Settings, messages: list[tuple[bytes | None, bytes]]) -> None:
    from workers.io.kafka_clients import make_producer

    producer = make_producer(settings)
    try:
        futures = [producer.send(settings.topic(RAW), key=k, value=v) for k, v in messages]
        producer.flush()
        for f in futures:
            f.get(timeout=0)
    finally:
        producer.close()


def progress(settings: Settings) -> int:
    """Documents in the index now (cheap: for waiting, not for checking)."""
    return elastic.count(elastic.client(settings), settings)


def check_books(settings: Settings, corpus: Corpus) -> Audit:
    """Every good article indexed exactly once, every poison dead-lettered with its reason by
    the right stage, nothing else dead-lettered or skipped, and the audit balanced."""
    result = audit(settings)
    rec = result.reconciliation
    assert rec is not None
    assert rec.missing_count == 0, f"inputs with no outcome: {rec.missing}"
    assert rec.unexpected_count == 0, f"documents with no input: {rec.unexpected}"
    assert rec.balanced, rec
    docs = indexed_ids(settings)
    assert docs == corpus.good_ids  # ids checked: all good ones, nothing else
    assert result.documents == len(corpus.good_ids) == progress(settings)  # exactly once
    assert rec.indexed == len(corpus.good_ids)
    assert rec.dead_lettered == len(corpus.poison) and rec.skipped == 0
    assert result.skips == {}

    dead = list_dead(settings)
    distinct: dict[tuple[str, bytes], str] = {}
    for d in dead:  # a batch processed twice (at-least-once) may dead-letter twice: same key
        distinct[(d.stage, d.value)] = d.reason
    found_clean = {v: r for (s, v), r in distinct.items() if s == "clean"}
    assert found_clean == {v: r for v, r in corpus.poison.items()
                           if STAGE_OF[r] == "clean"}
    found_index = {d.article_id: d.reason for d in dead if d.stage == "index"}
    assert found_index == corpus.poison_ids
    assert {s for s, _ in distinct} <= {"clean", "index"}  # nothing else there
    want = Counter(corpus.poison.values())
    assert {r: n for s in result.dead_letters.values() for r, n in s.items()} == dict(want)
    return result
