"""``newsflow audit``: where every input message went, and whether the books balance.

What it reports:
- per topic: the end offset (messages ever produced), summed over partitions;
- per stage: its consumer group's committed offset and lag on its input topic;
- dead letters by stage and reason, skips by reason, documents in the index;
- the reconciliation: does every raw input end as an indexed document, a skip record or a
  dead letter?

The reconciliation, precisely. Each message on ``<prefix>.raw`` has an *identity*: its article
id (the hash of its canonical URL) when it is a JSON object with a string ``url``, otherwise
``raw:<partition>/<offset>`` (bad JSON has no id; its place in the topic names it). Messages
with one identity are one article: an exact replay of a URL overwrites one document, and a
dead letter replayed to ``raw`` is the same article again. Outcomes have identities too:
documents by ``_id``; skip records by their ``id``; dead letters by the ``newsflow.id`` header,
else the ``id`` of their JSON, else (a raw message the ``clean`` stage could not read) the raw
rule applied to the original bytes and the ``newsflow.source`` header. Each input identity is
given its best outcome (indexed > skipped > dead-lettered: a dead letter that was replayed and
then indexed counts as indexed). Then

    distinct inputs == indexed + skipped + dead-lettered   (each identity counted once)

holds iff nothing is ``missing`` (an input with no outcome: lost, or still in flight) and no
document is ``unexpected`` (indexed without an input). Duplicates flagged by dedup are indexed
documents like any other. Counting by identity also makes the books immune to the repeats that
at-least-once delivery allows (a batch processed twice writes its dead letters twice).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import asdict, dataclass, field
from typing import Any

from elasticsearch.helpers import scan

from newsflow.config import Settings
from schemas.articles import article_id
from workers.io import elastic, kafka_admin
from workers.io.dead_letters import DeadLetter, parse
from workers.io.kafka_admin import read_all
from workers.topology import DLQ, RAW, REPLAYED, SKIPPED, all_topics


@dataclass
class GroupLag:
    stage: str
    group: str
    topic: str
    end_offset: int
    committed: int
    lag: int


@dataclass
class Reconciliation:
    raw_messages: int  # records on the raw topic
    distinct_inputs: int  # identities among them
    indexed: int  # inputs whose best outcome is a document
    skipped: int
    dead_lettered: int
    missing: list[str] = field(default_factory=list)  # inputs with no outcome (first 50)
    missing_count: int = 0
    unexpected: list[str] = field(default_factory=list)  # documents with no input (first 50)
    unexpected_count: int = 0
    recovered: int = 0  # dead-lettered once, then indexed or skipped (a replay)

    @property
    def balanced(self) -> bool:
        return self.missing_count == 0 and self.unexpected_count == 0 and \
            self.distinct_inputs == self.indexed + self.skipped + self.dead_lettered


@dataclass
class Audit:
    topics: dict[str, int]  # topic -> end offset (sum over partitions)
    groups: list[GroupLag]
    dead_letters: dict[str, dict[str, int]]  # stage -> reason -> distinct dead letters
    dead_letter_records: int  # records on the dead-letter topic (repeats included)
    skips: dict[str, int]  # "stage/reason" -> distinct skips
    documents: int
    reconciliation: Reconciliation | None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.reconciliation is not None:
            out["reconciliation"]["balanced"] = self.reconciliation.balanced
        return out


def raw_identity(value: bytes | None, partition: int, offset: int) -> str:
    try:
        data = json.loads(value or b"")
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("url"), str) and data["url"].strip():
        return article_id(data["url"])
    return f"raw:{partition}/{offset}"


def dead_identity(d: DeadLetter, settings: Settings) -> str:
    if d.article_id:
        return d.article_id
    place = d.source.rsplit("/", 2)  # topic/partition/offset
    if len(place) == 3 and place[0] == settings.topic(RAW):  # a raw message: the input rule
        return raw_identity(d.value, int(place[1]), int(place[2]))
    try:
        data = json.loads(d.value)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return str(data["id"])
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    return f"dlq:{d.source or d.ref}"


def reconcile_books(raw: Sequence[str], documents: Set[str], skipped: Set[str],
                    dead: Set[str]) -> Reconciliation:
    """The books (see the module doc) from the identity of each raw message, repeats
    included, and the identities of the documents, skip records and dead letters."""
    inputs = set(raw)
    outcome = {i: "indexed" if i in documents else "skipped" if i in skipped
               else "dead" if i in dead else "missing" for i in inputs}
    tally = Counter(outcome.values())
    missing = sorted(i for i, o in outcome.items() if o == "missing")
    unexpected = sorted(documents - inputs)
    return Reconciliation(
        raw_messages=len(raw), distinct_inputs=len(inputs), indexed=tally["indexed"],
        skipped=tally["skipped"], dead_lettered=tally["dead"], missing=missing[:50],
        missing_count=len(missing), unexpected=unexpected[:50],
        unexpected_count=len(unexpected),
        recovered=sum(1 for i in inputs if i in dead and outcome[i] != "dead"))


def indexed_ids(settings: Settings) -> set[str]:
    es = elastic.client(settings)
    if not es.indices.exists_alias(name=settings.es_alias):
        return set()
    return {hit["_id"] for hit in scan(es, index=settings.es_alias,
                                       query={"query": {"match_all": {}}}, _source=False)}


def audit(settings: Settings, *, reconcile: bool = True) -> Audit:
    """Read the topics, the groups and the index, and reconcile them (see the module doc).

    Reconciling reads the raw, dead-letter and skip topics whole and every document id: fine
    for an audit, not for a hot path."""
    topics = {t: sum(kafka_admin.end_offsets(settings, t).values())
              for t in [*all_topics(settings), settings.topic(REPLAYED)]}
    groups = [GroupLag(r.stage, r.group, r.topic, r.end_offset, r.committed, r.lag)
              for r in kafka_admin.lag(settings)]

    dead_records = [parse(r) for r in read_all(settings, settings.topic(DLQ))]
    dead: dict[str, str] = {}  # identity -> reason key; by (stage, identity) for the counts
    dead_seen: set[tuple[str, str]] = set()
    by_stage: dict[str, Counter[str]] = {}
    for d in dead_records:
        ident = dead_identity(d, settings)
        dead[ident] = d.reason
        if (d.stage, ident) not in dead_seen:
            dead_seen.add((d.stage, ident))
            by_stage.setdefault(d.stage, Counter())[d.reason] += 1

    skipped: set[str] = set()
    skip_counts: Counter[str] = Counter()
    for r in read_all(settings, settings.topic(SKIPPED)):
        try:
            record = json.loads(r.value)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        ident = record.get("id") or f"skip:{r.partition}/{r.offset}"
        if ident not in skipped:
            skipped.add(ident)
            skip_counts[f"{record.get('stage')}/{record.get('reason')}"] += 1

    docs = indexed_ids(settings)
    result = None
    if reconcile:
        raw = read_all(settings, settings.topic(RAW))
        result = reconcile_books([raw_identity(r.value, r.partition, r.offset) for r in raw],
                                 docs, skipped, set(dead))
    return Audit(
        topics=topics, groups=groups,
        dead_letters={s: dict(c) for s, c in sorted(by_stage.items())},
        dead_letter_records=len(dead_records), skips=dict(skip_counts), documents=len(docs),
        reconciliation=result)

