"""Prefect flow ``replay-dlq``: dead letters re-published to the topic they came from, once.

In: filters (stage, reason, time range). Out: each matching dead letter's original bytes (and
key) re-published to the input topic of the stage that dead-lettered it, unless replayed
before: every replayed record is marked on ``<prefix>.dlq-replayed`` (a compacted topic keyed
by the dead letter's partition/offset), and a replay skips the records marked there. The mark
is written after the replayed message is acknowledged, so a crash in between can replay one
record twice; that is harmless, the pipeline being idempotent per article id. A replayed
message that fails again is dead-lettered anew (a new record), so it can be replayed again
after the next fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from prefect import flow, get_run_logger

from flows.settings import FlowSettings, load_settings
from workers.io import kafka_admin
from workers.io.dead_letters import DeadLetter, list_dead
from workers.io.kafka_admin import read_all
from workers.io.kafka_clients import make_producer
from workers.settings import WorkerSettings
from workers.topology import DLQ, REPLAYED, STAGES

log = logging.getLogger(__name__)


def replayed_refs(settings: WorkerSettings) -> set[str]:
    """Dead letters already replayed (their ``partition/offset``)."""
    return {(r.key or b"").decode() for r in read_all(settings, settings.topic(REPLAYED))}


def ensure_replay_topic(settings: WorkerSettings) -> None:
    client = kafka_admin.admin(settings)
    try:
        if settings.topic(REPLAYED) not in set(client.list_topics()):
            rf, min_isr = kafka_admin.replication(
                settings, len(client.describe_cluster()["brokers"]))
            # Compacted: one mark per dead letter is all that must be kept, forever.
            client.create_topics([NewTopic(
                settings.topic(REPLAYED), 1, replication_factor=rf,
                topic_configs={"cleanup.policy": "compact",
                               "min.insync.replicas": str(min_isr)})])
    except TopicAlreadyExistsError:
        pass
    finally:
        client.close()


@dataclass
class ReplayReport:
    replayed: list[DeadLetter] = field(default_factory=list)
    already: int = 0  # matched, but replayed before
    unknown_stage: list[DeadLetter] = field(default_factory=list)  # no topic to send it to

    def by_topic(self, settings: WorkerSettings) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.replayed:
            topic = STAGES[d.stage].input_topic(settings)
            counts[topic] = counts.get(topic, 0) + 1
        return counts


def replay(settings: WorkerSettings, *, stage: str | None = None, reason: str | None = None,
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


@flow(name="replay-dlq")
def replay_dlq_flow(
    stage: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    settings: FlowSettings | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    report = replay(settings, stage=stage, reason=reason, since=since, until=until,
                        dry_run=dry_run)
    by_topic = report.by_topic(settings)
    get_run_logger().info(
        "%s %d dead letters (%s); %d replayed before; %d of unknown stages",
        "would replay" if dry_run else "replayed", len(report.replayed),
        ", ".join(f"{t}: {n}" for t, n in by_topic.items()) or "none", report.already,
        len(report.unknown_stage))
    return {"replayed": len(report.replayed), "by_topic": by_topic, "already": report.already,
            "unknown_stage": len(report.unknown_stage), "dry_run": dry_run}
