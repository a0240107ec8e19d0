"""The fault-injection suite's own stack: it stops and starts Kafka and Elasticsearch, so it
never touches the shared one. Kafka on 127.0.0.1:19092, Elasticsearch on 127.0.0.1:19200, data
and logs in ``<repo>/.stack-faults`` (git-ignored); started for the session, stopped after.

Run it alone with ``pytest -m faults``. ``NEWSFLOW_FAULTS_ARTICLES`` sets the articles per
scenario (default 2,000, as the issue asks)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow import elastic, kafka_admin, stack
from newsflow.config import Settings, load_settings
from newsflow.dlq import REPLAYED
from tests.integration.conftest import REPO, Pipeline

FAULT_ENV = {
    "NEWSFLOW_STACK_DIR": str(REPO / ".stack-faults"),
    "NEWSFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
    "NEWSFLOW_ES_URL": "http://127.0.0.1:19200",
    "NEWSFLOW_PREFECT_API_URL": "http://127.0.0.1:14200/api",
}
SERVICES = ("kafka", "elasticsearch")  # the workers need no Prefect


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[Settings]:
    saved = {k: os.environ.get(k) for k in FAULT_ENV}
    os.environ.update(FAULT_ENV)
    try:
        settings = load_settings()
        try:
            stack.up(settings, services=SERVICES, timeout=300)
        except stack.StackError as exc:
            pytest.fail(f"the fault suite's own stack did not start: {exc}", pytrace=False)
        try:
            yield settings
        finally:
            stack.down(settings, services=SERVICES)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def fault_pipeline(fault_stack: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    tag = uuid.uuid4().hex[:10]
    settings = fault_stack.model_copy(update={
        "topic_prefix": f"news-f{tag}", "group_prefix": f"newsflow-f{tag}",
        "es_alias": f"news-f{tag}", "batch_size": 50,
        # Lowered so that "too large" poison stays small; real articles are far below it.
        "max_message_bytes": 64 * 1024,
    })
    kafka_admin.ensure_topics(settings)
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    (tmp_path / "logs").mkdir()
    pipe = Pipeline(settings, log_dir=tmp_path / "logs")
    try:
        yield pipe
    finally:
        pipe.stop()
        print(pipe.worker_logs())
        if stack.healthy(settings, "elasticsearch"):
            elastic.drop_index(es, settings)
        if stack.healthy(settings, "kafka"):
            kafka_admin.delete_topics(settings)
            client = kafka_admin.admin(settings)
            try:
                if settings.topic(REPLAYED) in set(client.list_topics()):
                    client.delete_topics([settings.topic(REPLAYED)])
            finally:
                client.close()


def articles_per_scenario() -> int:
    return int(os.environ.get("NEWSFLOW_FAULTS_ARTICLES", "2000"))
