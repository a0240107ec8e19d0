"""Topic replication and retention: cluster-safe defaults decided from the cluster's size."""

from __future__ import annotations

import pytest

from workers.io.kafka_admin import replication, topic_configs
from workers.settings import WorkerSettings


@pytest.mark.parametrize(("brokers", "expected"), [(1, (1, 1)), (2, (2, 2)), (3, (3, 2)),
                                                   (5, (3, 2))])
def test_defaults_follow_the_cluster(brokers: int, expected: tuple[int, int]) -> None:
    assert replication(WorkerSettings(), brokers) == expected


def test_settings_win_over_the_defaults() -> None:
    settings = WorkerSettings(topic_replication_factor=2, topic_min_insync_replicas=1)
    assert replication(settings, 3) == (2, 1)


def test_impossible_replication_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="replication factor 3 > 1 broker"):
        replication(WorkerSettings(topic_replication_factor=3), 1)
    with pytest.raises(ValueError, match=r"min\.insync\.replicas 3 > replication factor 2"):
        replication(WorkerSettings(topic_replication_factor=2, topic_min_insync_replicas=3), 3)


def test_the_dead_letter_topic_keeps_messages_longer() -> None:
    settings = WorkerSettings(topic_retention_hours=24, dlq_retention_hours=720)
    assert topic_configs(settings, "news.raw", 2) == {
        "min.insync.replicas": "2", "retention.ms": str(24 * 3_600_000)}
    assert topic_configs(settings, "news.dlq", 2)["retention.ms"] == str(720 * 3_600_000)
