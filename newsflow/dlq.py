"""The dead-letter topic: list its records, and replay them to the topic they came from.

A dead letter (``<prefix>.dlq``) carries the original bytes and key of the input message and
the headers the runtime adds: ``newsflow.stage``, ``.reason``, ``.error_type``, ``.error``,
``.source`` (topic/partition/offset), ``.attempts`` and, when known, ``.id`` (article id).

Replay re-publishes the original bytes (and key) to the input topic of the stage that
dead-lettered them, once: every replayed record is marked on ``<prefix>.dlq-replayed`` (a
compacted topic keyed by the dead letter's partition/offset), and a replay skips the records
marked there. The mark is written after the replayed message is acknowledged, so a crash in
between can replay one record twice; that is harmless, the pipeline being idempotent per
article id. A replayed message that fails again is dead-lettered anew (a new record), so it
can be replayed again after the next fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import TopicPartition

from newsflow import kafka_admin
from newsflow.config import Settings
from newsflow.secrets import kafka_client_options
from workers.topology import DLQ, REPLAYED, STAGES

log = logging.getLogger(__name__)


def read_all(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning to its end now, by (partition, offset).

    Reads without a consumer group (assigned partitions), so it commits nothing anywhere."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                             enable_auto_commit=False, **kafka_client_options(settings))
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[ConsumerRecord] = []
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                records.extend(batch)
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
            todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
        return sorted((r for r in records if r.offset < ends[TopicPartition(r.topic,
                                                                             r.partition)]),
                      key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # in the dead-letter topic
    offset: int
    at: datetime  # when it was dead-lettered (record timestamp)
    key: bytes | None
    value: bytes
    stage: str
    reason: str
    error_type: str
    error: str
    source: str  # topic/partition/offset of the input message
    attempts: int
    article_id: str | None
    headers: tuple[tuple[str, bytes], ...] = field(repr=False, default=())  # the original ones

    @property
    def ref(self) -> str:
        """Where it sits in the dead-letter topic: ``partition/offset``."""
        return f"{self.partition}/{self.offset}"

    def summary(self) -> dict[str, Any]:
        return {"ref": self.ref, "at": self.at.isoformat(), "stage": self.stage,
                "reason": self.reason, "error_type": self.error_type, "error": self.error,
                "source": self.source, "attempts": self.attempts, "id": self.article_id,
                "bytes": len(self.value)}


def parse(record: ConsumerRecord) -> DeadLetter:
    ours = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()
            if k.startswith("newsflow.")}
    attempts = ours.get("newsflow.attempts", "1")
    return DeadLetter(
        partition=record.partition, offset=record.offset,
        at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key, value=record.value or b"",
        stage=ours.get("newsflow.stage", ""), reason=ours.get("newsflow.reason", ""),
        error_type=ours.get("newsflow.error_type", ""), error=ours.get("newsflow.error", ""),
        source=ours.get("newsflow.source", ""),
        attempts=int(attempts) if attempts.isdigit() else 1,
        article_id=ours.get("newsflow.id") or None,
        headers=tuple((k, v) for k, v in record.headers or () if not k.startswith("newsflow.")),
    )


def _matches(d: DeadLetter, stage: str | None, reason: str | None, since: datetime | None,
             until: datetime | None) -> bool:
    return ((stage is None or d.stage == stage) and (reason is None or d.reason == reason)
            and (since is None or d.at >= _utc(since)) and (until is None or d.at < _utc(until)))


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # a time without a zone is taken as UTC


def list_dead(settings: Settings, *, stage: str | None = None, reason: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> list[DeadLetter]:
    """The dead letters matching every filter given, oldest first per partition."""
    return [d for d in map(parse, read_all(settings, settings.topic(DLQ)))
            if _matches(d, stage, reason, since, until)]


def replayed_refs(settings: Settings) -> set[str]:
    """Dead letters already replayed (their ``partition/offset``)."""
    return {(r.key or b"").decode() for r in read_all(settings, settings.topic(REPLAYED))}


def ensure_replay_topic(settings: Settings) -> None:
    client = kafka_admin.admin(settings)
    try:
        if settings.topic(REPLAYED) not in set(client.list_topics()):
            # Compacted: one mark per dead letter is all that must be kept, forever.
            client.create_topics([NewTopic(settings.topic(REPLAYED), 1, replication_factor=1,
                                           topic_configs={"cleanup.policy": "compact"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        client.close()


@dataclass
class ReplayReport:
    replayed: list[DeadLetter] = field(default_factory=list)
    already: int = 0  # matched, but replayed before
    unknown_stage: list[DeadLetter] = field(default_factory=list)  # no topic to send it to

    def by_topic(self, settings: Settings) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.replayed:
            topic = STAGES[d.stage].input_topic(settings)
            counts[topic] = counts.get(topic, 0) + 1
        return counts


def replay(settings: Settings, *, stage: str | None = None, reason: str | None = None,
           since: datetime | None = None, until: datetime | None = None,
           dry_run: bool = False) -> ReplayReport:
    """Re-publish the matching dead letters not replayed before to their stage's input topic.

    ``dry_run``: only say what would be replayed."""
    report = ReplayReport()
    ensure_replay_topic(settings)
    done = replayed_refs(settings)
    todo: list[DeadLetter] = []
    for d in list_dead(settings, stage=stage, reason=reason, since=since, until=until):
        if d.ref in done:
            report.already += 1
        elif d.stage not in STAGES:
            report.unknown_stage.append(d)
        else:
            todo.append(d)
    if dry_run or not todo:
        report.replayed = todo
        return report
    from workers.runtime import make_producer

    producer = make_producer(settings)
    try:
        for chunk in _chunks(todo, 500):
            sent = [producer.send(STAGES[d.stage].input_topic(settings), key=d.key, value=d.value,
                                  headers=[*d.headers, ("newsflow.replay_of",
                                                        f"{settings.topic(DLQ)}/{d.ref}".encode())])
                    for d in chunk]
            producer.flush()
            for future in sent:
                future.get(timeout=0)  # acknowledged before it is marked done
            marks = [producer.send(settings.topic(REPLAYED), key=d.ref.encode(), value=b"1")
                     for d in chunk]
            producer.flush()
            for future in marks:
                future.get(timeout=0)
            report.replayed.extend(chunk)
            log.info("replayed", extra={"count": len(chunk)})
    finally:
        producer.close()
    return report


def _chunks(items: list[DeadLetter], size: int) -> Iterable[list[DeadLetter]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
