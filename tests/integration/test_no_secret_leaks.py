"""Configured credentials never show: not in worker logs, CLI output (--help, stack status,
search, publish, error messages), dead-letter records, nor Prefect's record of a flow run.

The pipeline runs with fake Elasticsearch and Kafka credentials set in its settings, so they
travel everywhere a real one would (worker environments, clients, the publish flow). The local
stack has no authentication: Elasticsearch ignores the basic-auth header and Kafka's PLAINTEXT
listener takes no SASL login, so the run works and only the leak is under test. Workers log at
DEBUG, where client libraries say the most.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
from kafka import KafkaProducer
from pydantic import SecretStr

from tests.integration.conftest import REPO, Pipeline, wait_for
from workers.io import elastic
from workers.settings import settings_env
from workers.topology import STAGES

ES_SECRET = "es-Secret-9f3b1c7d2e"
KAFKA_SECRET = "kafka-Secret-4a8e6f0b5c"
ES_USER = "leakcheck_user"

WORDS = ("The regional council approved the budget for the new tram line on Monday after a "
         "debate that lasted most of the afternoon and drew a large crowd of residents.")


def _needles() -> list[str]:
    basic = base64.b64encode(f"{ES_USER}:{ES_SECRET}".encode()).decode()
    return [ES_SECRET, KAFKA_SECRET, basic]


def _cli(pipe: Pipeline, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-m", "newsflow", *args], cwd=REPO,
                          env={**pipe.env(), **env}, capture_output=True, text=True,
                          timeout=300, check=False)
    return f"$ newsflow {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}"


def test_secrets_appear_in_no_log_output_dlq_or_flow_record(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.settings = pipeline.settings.model_copy(update={
        "es_username": ES_USER, "es_password": SecretStr(ES_SECRET),
        "kafka_username": "leakcheck", "kafka_password": SecretStr(KAFKA_SECRET),
        "log_level": "DEBUG"})
    settings = pipeline.settings
    # The secrets do reach the workers (as they must, to log in).
    assert settings_env(settings)["NEWSFLOW_ES_PASSWORD"] == ES_SECRET
    pipeline.start()

    articles = tmp_path / "articles.jsonl"
    articles.write_text("\n".join(json.dumps(
        {"url": f"https://example.org/leak/{n}", "title": f"Tram {n}", "text": f"{WORDS} {n}"})
        for n in range(3)) + "\n")
    outputs = [
        _cli(pipeline, "--help"),
        _cli(pipeline, "stack", "--help"),
        _cli(pipeline, "publish", str(articles), "--wait", "--timeout", "240"),  # Prefect flow
        _cli(pipeline, "stack", "status"),
        _cli(pipeline, "search", "tram", "--json"),
        # An error path: Elasticsearch unreachable, with the credentials set.
        _cli(pipeline, "search", "tram", NEWSFLOW_ES_URL="http://127.0.0.1:9"),
    ]
    assert "published 3" in outputs[2], outputs[2]

    # Bad input for the dead-letter topic: not JSON, and JSON without text/html.
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for value in (b"\xff not json", json.dumps({"url": "https://example.org/x"}).encode()):
        producer.send(settings.topic("raw"), key=b"bad", value=value)
    producer.flush()
    producer.close()
    dlq = pipeline.read_topic("dlq", expect=2, timeout=120)
    assert len(dlq) == 2
    dead_letters = [repr((r.key, r.value, r.headers)) for r in dlq]

    es = elastic.client(settings)
    wait_for(lambda: elastic.count(es, settings) == 3, what="3 documents indexed")

    prefect_runs = httpx.post(f"{settings.prefect_api_url}/flow_runs/filter", timeout=30,
                              json={"limit": 50, "sort": "START_TIME_DESC"}).text
    assert "publish" in prefect_runs  # the flow run of `newsflow publish` is recorded

    pipeline.stop()
    worker_logs = {p.name: p.read_text(errors="replace") for p in pipeline.log_dir.glob("*.log")}
    assert len(worker_logs) == len(STAGES) and all(worker_logs.values())
    assert any("DEBUG" in text or '"debug"' in text.lower() for text in worker_logs.values())

    haystacks = {
        **{f"worker log {name}": text for name, text in worker_logs.items()},
        **{f"cli output {n}": text for n, text in enumerate(outputs)},
        "dead letters": "\n".join(dead_letters),
        "prefect flow runs": prefect_runs,
    }
    leaks = [(where, needle) for where, text in haystacks.items() for needle in _needles()
             if needle in text]
    assert leaks == []
    # The --help text names the variables without values; the mask may show, the value never.
    assert "NEWSFLOW_ES_URL" in outputs[0]
