"""Publishing to a topic that does not exist fails at once and names the topic, instead of a
producer waiting a minute for metadata and timing out without saying which."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.backfill import backfill_archives, backfill_kafka
from flows.publish import publish
from newsflow.config import Settings
from tests.integration.conftest import REPO
from workers.io import kafka_admin
from workers.settings import settings_env

ARTICLE = b'{"url": "https://example.org/a", "text": "Some words to publish."}'


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """Settings whose topic prefix has no topics behind it."""
    return base_settings.model_copy(
        update={"topic_prefix": f"news-missing{uuid.uuid4().hex[:10]}"})


@pytest.fixture
def one_article(tmp_path: Path) -> Path:
    path = tmp_path / "one.jsonl"
    path.write_bytes(ARTICLE + b"\n")
    return path


def test_publish_to_a_missing_topic_names_it(settings: Settings) -> None:
    with pytest.raises(kafka_admin.MissingTopicError, match=rf"'{settings.topic_prefix}\.raw'"):
        publish(settings, [ARTICLE])
    client = kafka_admin.admin(settings)
    try:  # the check created nothing on the way
        assert not [t for t in client.list_topics() if t.startswith(settings.topic_prefix)]
    finally:
        client.close()


def test_cli_publish_to_a_missing_topic_is_one_clear_error(
    settings: Settings, one_article: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsflow", "publish", str(one_article), "--no-prefect"],
        env={**os.environ, **settings_env(settings)}, cwd=REPO, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert result.returncode == 1
    assert f"error: topic '{settings.topic_prefix}.raw' does not exist" in result.stderr
    assert "newsflow stack init" in result.stderr
    assert "Traceback" not in result.stderr


def test_backfills_into_a_missing_topic_fail_before_reading_anything(
    settings: Settings, one_article: Path, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "checkpoint.json"
    with pytest.raises(kafka_admin.MissingTopicError, match=r"\.raw' does not exist"):
        backfill_archives(settings, [one_article], checkpoint_file=checkpoint)
    with pytest.raises(kafka_admin.MissingTopicError, match=r"\.raw' does not exist"):
        backfill_kafka(settings, datetime(2026, 1, 1, tzinfo=UTC), checkpoint_file=checkpoint)
    assert not checkpoint.exists()  # no half-made progress to resume from
