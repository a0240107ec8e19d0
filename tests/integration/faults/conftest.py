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

from newsflow import stack
from newsflow.config import Settings, load_settings
from tests.integration.conftest import REPO, Pipeline
from workers.io import elastic, kafka_admin

# Given to the settings, never put in os.environ: the rest of the session (and the processes
# it starts) must keep talking to the shared stack.
FAULT_STACK = {
    "stack_dir": REPO / ".stack-faults",
    "kafka_bootstrap": "127.0.0.1:19092",
    "es_url": "http://127.0.0.1:19200",
    "prefect_api_url": "http://127.0.0.1:14200/api",
}
# The workers need no Prefect. CoreNLP (stateless) is the main stack's when that one is up.
SERVICES = ("kafka", "elasticsearch", "corenlp")


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[Settings]:
    """Started for the fault tests and stopped right after them (the workers of a test get
    these endpoints through the settings the pipeline passes them)."""
    settings = load_settings(**FAULT_STACK)
    try:
        stack.up(settings, services=SERVICES, timeout=300)
    except stack.StackError as exc:
        pytest.fail(f"the fault suite's own stack did not start: {exc}", pytrace=False)
    try:
        yield settings
    finally:
        stack.down(settings, services=SERVICES)


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


def articles_per_scenario() -> int:
    return int(os.environ.get("NEWSFLOW_FAULTS_ARTICLES", "2000"))
