"""Waiting until every published article has an outcome: indexed, skipped or dead-lettered.

``publish --wait`` and ``backfill --wait`` start an :class:`OutcomeWatch` *before* they
publish (it notes where the skip and dead-letter topics end, and the time), then call
:meth:`OutcomeWatch.wait` with the identities they published. An identity is what
``newsflow audit`` counts by: the article id (hash of the canonical URL), or
``raw:<partition>/<offset>`` for a message without a usable URL.

An article counts as
- *indexed* when its document was written at or after the watch began (``indexed_at``, less
  ``CLOCK_SKEW`` for the workers' clocks): an older copy of a re-published URL does not count;
- *skipped* when a skip record with its id arrived on the skip topic after the watch began;
- *dead-lettered* likewise on the dead-letter topic (identified as the audit does).
The best outcome wins (indexed > skipped > dead-lettered), as in the audit. The wait ends as
soon as every identity has one, or at the timeout with the ones that have none.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kafka.structs import TopicPartition

from newsflow.audit import dead_identity, raw_identity
from newsflow.config import Settings
from workers.io import elastic
from workers.io.dead_letters import parse
from workers.io.kafka_clients import make_consumer
from workers.topology import DLQ, RAW, SKIPPED

log = logging.getLogger(__name__)

# How far the workers' clocks may run behind this one when judging ``indexed_at``.
CLOCK_SKEW = timedelta(seconds=5)
POLL_SECONDS = 0.5
Progress = Callable[[int], None]


@dataclass
class WaitReport:
    """Each published identity's outcome; ``missing`` have none (yet)."""

    indexed: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)
    dead: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.missing

    def counts(self) -> str:
        return (f"indexed {len(self.indexed)}, skipped {len(self.skipped)}, "
                f"dead-lettered {len(self.dead)}")


def best_outcomes(wanted: set[str], indexed: Set[str], skipped: Set[str], dead: Set[str]
                  ) -> WaitReport:
    """Each wanted identity under its best outcome (indexed > skipped > dead-lettered), and
    the ones with none as ``missing``."""
    report = WaitReport()
    report.indexed = wanted & indexed
    report.skipped = (wanted & skipped) - report.indexed
    report.dead = (wanted & dead) - report.indexed - report.skipped
    report.missing = sorted(wanted - report.indexed - report.skipped - report.dead)
    return report


class OutcomeWatch:
    """Notes where the outcome topics end now; later tells which articles have an outcome."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.since = datetime.now(UTC) - CLOCK_SKEW
        self.consumer = make_consumer(settings, client_id="newsflow-wait")
        self.starts: dict[TopicPartition, int] = {}
        for kind in (SKIPPED, DLQ, RAW):
            topic = settings.topic(kind)
            tps = [TopicPartition(topic, p)
                   for p in sorted(self.consumer.partitions_for_topic(topic) or [])]
            self.starts.update(self.consumer.end_offsets(tps))
        self.outcome_partitions = [tp for tp in self.starts if tp.topic != settings.topic(RAW)]
        self.consumer.assign(self.outcome_partitions)
        for tp in self.outcome_partitions:
            self.consumer.seek(tp, self.starts[tp])
        self.skipped: set[str] = set()
        self.dead: set[str] = set()
        self.indexed: set[str] = set()
        self.es = elastic.client(settings)

    def close(self) -> None:
        self.consumer.close()

    def _read_outcome_topics(self) -> None:
        """Take in every skip record and dead letter written since the last call."""
        skipped_topic = self.settings.topic(SKIPPED)
        while True:
            polled = self.consumer.poll(timeout_ms=200)
            if not polled:
                return
            for tp, records in polled.items():
                for r in records:
                    if tp.topic == skipped_topic:
                        try:
                            ident = json.loads(r.value).get("id")
                        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                            continue
                        if isinstance(ident, str):
                            self.skipped.add(ident)
                    else:
                        self.dead.add(dead_identity(parse(r), self.settings))

    def _indexed(self, ids: list[str]) -> set[str]:
        """Which of these article ids were indexed since the watch began."""
        es = self.es
        if not ids or not es.indices.exists_alias(name=self.settings.es_alias):
            return set()
        found: set[str] = set()
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            hits = es.search(
                index=self.settings.es_alias, size=len(chunk), source=False,
                query={"bool": {"filter": [
                    {"ids": {"values": chunk}},
                    {"range": {"indexed_at": {"gte": self.since.isoformat()}}}]}},
            )["hits"]["hits"]
            found.update(hit["_id"] for hit in hits)
        return found

    def check(self, identities: Iterable[str]) -> WaitReport:
        """One look: the outcome of each identity so far."""
        wanted = set(identities)
        self._read_outcome_topics()
        # Once indexed since the watch began, always so: ask the index only about the rest.
        ask = sorted(i for i in wanted - self.indexed if not i.startswith("raw:"))
        self.indexed |= self._indexed(ask)
        return best_outcomes(wanted, self.indexed & wanted, self.skipped, self.dead)

    def wait(self, identities: Iterable[str], timeout: float,
             progress: Progress | None = None) -> WaitReport:
        """Look every ``POLL_SECONDS`` until each identity has an outcome or time runs out."""
        wanted = set(identities)
        started = time.monotonic()
        done = 0
        while True:
            report = self.check(wanted)
            now = len(wanted) - len(report.missing)
            if progress and now > done:
                progress(now - done)
            done = now
            report.seconds = time.monotonic() - started
            if report.complete or report.seconds > timeout:
                return report
            time.sleep(POLL_SECONDS)

    def urls(self, identities: Iterable[str], limit: int = 20) -> dict[str, str]:
        """The URL of up to ``limit`` identities, from the raw messages published since the
        watch began (for naming the articles that have no outcome)."""
        wanted = set(identities)
        raw = [tp for tp in self.starts if tp.topic == self.settings.topic(RAW)]
        if not wanted or not raw:
            return {}
        consumer = make_consumer(self.settings, client_id="newsflow-wait")
        try:
            ends = consumer.end_offsets(raw)
            consumer.assign(raw)
            for tp in raw:
                consumer.seek(tp, self.starts[tp])
            todo = {tp for tp in raw if ends[tp] > self.starts[tp]}
            found: dict[str, str] = {}
            deadline = time.monotonic() + 30
            while todo and len(found) < min(limit, len(wanted)) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=1000).values():
                    for r in records:
                        ident = raw_identity(r.value, r.partition, r.offset)
                        if ident in wanted and ident not in found:
                            found[ident] = _url_of(r.value)
                todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
            return found
        finally:
            consumer.close()


def _url_of(value: bytes | None) -> str:
    try:
        url = json.loads(value or b"").get("url")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "(not a JSON object)"
    return url if isinstance(url, str) else "(no URL)"
