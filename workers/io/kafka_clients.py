"""Kafka clients made from the settings: the pipeline's producer, and plain consumers.

Every Kafka client newsflow makes comes from here (or ``kafka_admin.admin``), so the
delivery settings and the credentials (``workers.io.auth``) are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from workers.io.auth import kafka_client_options
from workers.settings import WorkerSettings

# The broker's message.max.bytes (stack/kafka/server.properties): the largest record that can
# arrive, so the largest that must be fetchable and re-publishable to the dead-letter topic.
BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def make_producer(settings: WorkerSettings) -> KafkaProducer:
    """The one producer configuration: acknowledged by all in-sync replicas, idempotent."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        # Idempotent producer: the broker drops the duplicates its own retries would make, and
        # (with at most 5 requests in flight) keeps each partition's order across retries.
        # Retries are bounded by time, not count: a broker restart is waited out for 2 min.
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        delivery_timeout_ms=120_000,
        linger_ms=20,
        # Per partition: kafka-python's 16 KiB default holds three or four articles, so every
        # few sends would start a batch of its own; a worker's whole output batch fits in 1 MiB
        # per partition (docs/performance.md).
        batch_size=1 << 20,
        # Room for any message the broker accepts: oversized input is dead-lettered whole.
        max_request_size=BROKER_MAX_MESSAGE_BYTES,
        client_id="newsflow",
        **kafka_client_options(settings),
    )


def make_consumer(settings: WorkerSettings, client_id: str = "newsflow",
                  **options: Any) -> KafkaConsumer:
    """A consumer without auto-commit; ``options`` for the rest (group, fetch sizes, ...)."""
    return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                         client_id=client_id, **options, **kafka_client_options(settings))
