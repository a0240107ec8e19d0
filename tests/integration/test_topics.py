"""The pipeline's topics on the real broker carry the replication, min ISR and retention the
settings decide (on this one-broker stack: RF 1, min ISR 1; retention from the settings)."""

from __future__ import annotations

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from workers.io import kafka_admin
from workers.topology import all_topics

from .conftest import Pipeline

pytestmark = pytest.mark.integration


def test_topics_are_created_with_min_isr_and_retention(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    client = kafka_admin.admin(settings)
    try:
        brokers = len(client.describe_cluster()["brokers"])
        rf, min_isr = kafka_admin.replication(settings, brokers)
        topics = all_topics(settings)
        described = {t["name"]: t for t in client.describe_topics(topics)}
        assert {len(p["replica_nodes"]) for t in topics
                for p in described[t]["partitions"]} == {rf}
        found = client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])["topic"]
        for topic in topics:
            hours = settings.dlq_retention_hours if topic == settings.topic("dlq") \
                else settings.topic_retention_hours
            assert found[topic]["retention.ms"]["value"] == str(hours * 3_600_000), topic
            assert found[topic]["min.insync.replicas"]["value"] == str(min_isr), topic
    finally:
        client.close()
