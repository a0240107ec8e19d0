"""Kafka housekeeping: create the pipeline's topics, and measure consumer lag per stage."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import TopicPartition

from newsflow.config import Settings
from newsflow.secrets import kafka_client_options
from workers.topology import REPLAYED, STAGES, all_topics

log = logging.getLogger(__name__)


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="newsflow-admin",
                            **kafka_client_options(settings))


def ensure_topics(settings: Settings) -> list[str]:
    """Create every pipeline topic that does not exist yet; return the ones created."""
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        wanted = [t for t in all_topics(settings) if t not in existing]
        created = []
        for name in wanted:
            try:
                client.create_topics(
                    [NewTopic(name, settings.topic_partitions, replication_factor=1)]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process made it between list and create
        if created:
            log.info("topics created", extra={"topics": ",".join(created)})
        return created
    finally:
        client.close()


class MissingTopicError(RuntimeError):
    """A topic the command needs does not exist (the pipeline's are made by `stack init`)."""


def require_topic(settings: Settings, topic: str) -> None:
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


def delete_topics(settings: Settings) -> None:
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                      enable_auto_commit=False, **kafka_client_options(settings))
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


def end_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    with Offsets(settings) as offsets:
        return offsets.end_offsets(topic)


def lag(settings: Settings) -> list[StageLag]:
    """For each stage: how far its consumer group is behind the end of its input topic."""
    with Offsets(settings) as offsets:
        return offsets.lag()
