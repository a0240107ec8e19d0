"""Kafka housekeeping: the pipeline's topics, their offsets, consumer lag, reading a topic whole.

In: the settings (names, partitions, credentials). Out: topics created or checked, end offsets
and committed offsets per stage, or a topic's records; nothing here consumes as a group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import TopicPartition

from workers.io.auth import kafka_client_options
from workers.io.kafka_clients import make_consumer
from workers.settings import WorkerSettings
from workers.topology import DLQ, REPLAYED, STAGES, all_topics

log = logging.getLogger(__name__)


def admin(settings: WorkerSettings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="newsflow-admin",
                            **kafka_client_options(settings))


def replication(settings: WorkerSettings, brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for topics on a cluster of ``brokers``.

    Defaults: RF = min(3, brokers); min ISR = 2 when RF >= 2 (a write acknowledged by all
    in-sync replicas then exists on two brokers at least, and one broker may be lost), else 1.
    """
    rf = settings.topic_replication_factor or min(3, max(1, brokers))
    if rf > brokers:
        raise ValueError(f"topic replication factor {rf} > {brokers} broker(s) in the cluster")
    min_isr = settings.topic_min_insync_replicas or (2 if rf >= 2 else 1)
    if min_isr > rf:
        raise ValueError(f"min.insync.replicas {min_isr} > replication factor {rf}")
    return rf, min_isr


def topic_configs(settings: WorkerSettings, topic: str, min_isr: int) -> dict[str, str]:
    """The topic-level configuration newsflow sets: min ISR and time-based retention."""
    hours = settings.dlq_retention_hours if topic == settings.topic(DLQ) \
        else settings.topic_retention_hours
    return {"min.insync.replicas": str(min_isr), "retention.ms": str(hours * 3_600_000)}


def ensure_topics(settings: WorkerSettings) -> list[str]:
    """Create every pipeline topic that does not exist yet, replicated as ``replication``
    says; give existing ones the configured min ISR and retention. Returns those created.

    The replication factor and partitions of an existing topic are not changed here: that is
    a partition reassignment (docs/operations.md)."""
    client = admin(settings)
    try:
        brokers = len(client.describe_cluster()["brokers"])
        rf, min_isr = replication(settings, brokers)
        existing = set(client.list_topics())
        created = []
        for name in all_topics(settings):
            configs = topic_configs(settings, name, min_isr)
            if name in existing:
                client.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                     configs=configs)])
                continue
            try:
                client.create_topics([NewTopic(name, settings.topic_partitions,
                                               replication_factor=rf, topic_configs=configs)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process made it between list and create
        if created:
            log.info("topics created", extra={"topics": ",".join(created),
                                              "replication_factor": rf, "min_isr": min_isr})
        return created
    finally:
        client.close()


class MissingTopicError(RuntimeError):
    """A topic the command needs does not exist (the pipeline's are made by `stack init`)."""


def require_topic(settings: WorkerSettings, topic: str) -> None:
    """Raise MissingTopicError at once, where a producer would wait a minute for metadata
    and then time out without naming the topic."""
    client = admin(settings)
    try:
        if topic not in set(client.list_topics()):
            raise MissingTopicError(
                f"topic {topic!r} does not exist on {settings.kafka_bootstrap}; "
                "`newsflow stack init` creates the pipeline's topics (check the topic prefix, "
                "NEWSFLOW_TOPIC_PREFIX, too)"
            )
    finally:
        client.close()


def delete_topics(settings: WorkerSettings) -> None:
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        # The replay marks too: made on demand by `newsflow dlq replay`, not by ensure_topics.
        doomed = [t for t in [*all_topics(settings), settings.topic(REPLAYED)] if t in existing]
        if doomed:
            client.delete_topics(doomed)
    finally:
        client.close()


@dataclass(frozen=True)
class StageLag:
    stage: str
    topic: str
    group: str
    end_offset: int  # messages ever written to the topic (sum over partitions)
    committed: int  # messages the stage's group has committed past
    lag: int


class Offsets:
    """Reads topic ends and stage lag over one admin client and one consumer, so a loop that
    reads them every second (a benchmark's monitor) does not connect anew each time."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.consumer = make_consumer(settings, client_id="newsflow-offsets")
        self._admin: KafkaAdminClient | None = None  # made on first use: only lag needs it

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = admin(self.settings)
        return self._admin

    def end_offsets(self, topic: str) -> dict[TopicPartition, int]:
        partitions = self.consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        return dict(self.consumer.end_offsets(tps)) if tps else {}

    def lag(self) -> list[StageLag]:
        """For each stage: how far its consumer group is behind the end of its input topic."""
        rows = []
        for spec in STAGES.values():
            topic = spec.input_topic(self.settings)
            ends = self.end_offsets(topic)
            group = self.settings.group(spec.name)
            committed = self.admin.list_group_offsets({group: None}).get(group, {})
            done = sum(
                committed[tp].offset
                for tp in ends
                if tp in committed and committed[tp].offset >= 0
            )
            total = sum(ends.values())
            rows.append(StageLag(spec.name, topic, group, total, done, total - done))
        return rows

    def close(self) -> None:
        self.consumer.close()
        if self._admin is not None:
            self._admin.close()

    def __enter__(self) -> Offsets:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def end_offsets(settings: WorkerSettings, topic: str) -> dict[TopicPartition, int]:
    with Offsets(settings) as offsets:
        return offsets.end_offsets(topic)


def lag(settings: WorkerSettings) -> list[StageLag]:
    """For each stage: how far its consumer group is behind the end of its input topic."""
    with Offsets(settings) as offsets:
        return offsets.lag()


def read_all(settings: WorkerSettings, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning to its end now, by (partition, offset).

    Reads without a consumer group (assigned partitions), so it commits nothing anywhere."""
    consumer = make_consumer(settings, client_id="newsflow-reader")
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
