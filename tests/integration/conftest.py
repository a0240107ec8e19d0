"""Fixtures for tests against the real Kafka, Elasticsearch, Prefect and CoreNLP server.

Where the services come from, in order:
1. already running at the configured endpoints (``make test`` starts the local stack first);
2. a Docker engine: Kafka and Elasticsearch in containers via testcontainers;
3. the local native stack (``newsflow.stack``), started here.
If none works the suite fails, saying how to get one; it never skips.

Each test gets its own topics, consumer groups and index (a uuid in every name), and its own
worker processes, so tests never see each other's data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from newsflow.config import Settings, load_settings
from workers.io import elastic, kafka_admin
from workers.settings import settings_env
from workers.topology import STAGES

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

# Flows run in this process must report to the configured Prefect server, not a temporary one.
os.environ.setdefault("PREFECT_API_URL", load_settings().prefect_api_url)


def _reachable(settings: Settings) -> dict[str, bool]:
    ok = {}
    try:
        ok["elasticsearch"] = httpx.get(f"{settings.es_url}/_cluster/health", timeout=3).is_success
    except httpx.HTTPError:
        ok["elasticsearch"] = False
    try:
        kafka_admin.admin(settings).close()
        ok["kafka"] = True
    except Exception:
        ok["kafka"] = False
    try:
        ok["prefect"] = httpx.get(f"{settings.prefect_api_url}/health", timeout=3).is_success
    except httpx.HTTPError:
        ok["prefect"] = False
    from newsflow import stack

    ok["corenlp"] = stack.healthy(settings, "corenlp")
    return ok


def _docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def base_settings() -> Iterator[Settings]:
    settings = load_settings()
    status = _reachable(settings)
    if all(status.values()):
        yield settings
        return
    if _docker_available() and not (status["kafka"] or status["elasticsearch"]):
        yield from _containers(settings)
        return
    from newsflow import stack

    try:
        stack.up(settings)
    except Exception as exc:
        pytest.fail(
            f"integration tests need Kafka, Elasticsearch, Prefect and CoreNLP (reachable: "
            f"{status}), "
            f"and starting the local stack failed: {exc}. Run `make test` (it starts them), "
            "or `newsflow stack up`, or provide a Docker engine for testcontainers.",
            pytrace=False,
        )
    yield settings


def _containers(settings: Settings) -> Iterator[Settings]:
    """Kafka and Elasticsearch from testcontainers; Prefect and CoreNLP from the local stack."""
    from testcontainers.elasticsearch import ElasticSearchContainer
    from testcontainers.kafka import KafkaContainer

    from newsflow import stack

    with (
        KafkaContainer("apache/kafka:4.1.2").with_kraft() as kafka,
        ElasticSearchContainer(
            "docker.elastic.co/elasticsearch/elasticsearch:9.5.3", mem_limit="2g"
        ).with_env("xpack.security.enabled", "false") as es,
    ):
        settings = settings.model_copy(
            update={
                "kafka_bootstrap": kafka.get_bootstrap_server(),
                "es_url": es.get_url(),
            }
        )
        stack.up(settings, services=("prefect", "corenlp"))
        yield settings


@dataclass
class Pipeline:
    """One test's private pipeline: its own topics, groups, index and worker processes."""

    settings: Settings
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path = Path()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **settings_env(self.settings),  # secrets revealed (not '*****'), None left out
            "PREFECT_API_URL": self.settings.prefect_api_url,
        }

    def start_worker(self, stage: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{stage}-{len(self.workers)}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "worker", stage],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.workers.append(proc)
        return proc

    def start(self) -> None:
        for stage in STAGES:
            self.start_worker(stage)

    def stop(self) -> None:
        for proc in self.workers:
            proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def read_topic(self, kind: str, expect: int, timeout: float = 60) -> list:
        """All records of a topic of this pipeline, waiting until there are ``expect``."""
        topic = self.settings.topic(kind)
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
        )
        try:
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            records: list = []
            deadline = time.monotonic() + timeout
            while len(records) < expect and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            return sorted(records, key=lambda r: (r.partition, r.offset))
        finally:
            consumer.close()

    def worker_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture
def pipeline(
    base_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    """Topics, index and one worker per stage, private to this test (not started yet)."""
    tag = uuid.uuid4().hex[:10]
    partitions = getattr(request, "param", {}).get("partitions", 6)
    settings = base_settings.model_copy(
        update={
            "topic_prefix": f"news-t{tag}",
            "group_prefix": f"newsflow-t{tag}",
            "es_alias": f"news-t{tag}",
            "topic_partitions": partitions,
            "batch_size": 50,
        }
    )
    kafka_admin.ensure_topics(settings)
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    pipe = Pipeline(settings, log_dir=log_dir)
    try:
        yield pipe
    finally:
        pipe.stop()
        print(pipe.worker_logs())  # pytest shows captured output only when the test failed
        elastic.drop_index(es, settings)
        kafka_admin.delete_topics(settings)


def wait_for(predicate, timeout: float = 90, interval: float = 0.5, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` is truthy; return its value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def group_partitions(settings: Settings, stage: str, replicas: int) -> list[list[int]]:
    """Partitions of ``stage``'s input topic held by each member of its consumer group, once
    the group is stable with ``replicas`` members each holding some."""
    from kafka.admin import KafkaAdminClient

    group, topic = settings.group(stage), STAGES[stage].input_topic(settings)

    def assigned() -> list[list[int]] | None:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            info = admin.describe_groups([group])[group]
        finally:
            admin.close()
        if info.get("group_state") != "Stable":
            return None
        held = [sorted(p for a in m["member_assignment"]["assigned_partitions"]
                       if a["topic"] == topic for p in a["partitions"])
                for m in info["members"]]
        return held if len(held) == replicas and all(held) else None

    result: list[list[int]] = wait_for(assigned, timeout=120,
                                       what=f"{replicas} {stage} replicas in a group")
    return result


def jsonl(records: list[dict]) -> list[bytes]:
    return [json.dumps(r, ensure_ascii=False).encode() for r in records]
