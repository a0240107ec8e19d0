"""`newsflow stack status` on a stack that is down: it reports each service as down and does
not go on to ask Kafka for lag or Elasticsearch for a count (their clients would retry for half
a minute, logging a traceback per attempt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow import cli, stack
from workers.io import elastic, kafka_admin


def _must_not_be_called(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("status asked a service that had just failed its health check")



def test_status_of_a_stopped_stack_does_not_ask_the_services_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ports nothing listens on.
    monkeypatch.setenv("NEWSFLOW_STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("NEWSFLOW_ES_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("NEWSFLOW_PREFECT_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setenv("NEWSFLOW_CORENLP_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(kafka_admin, "lag", _must_not_be_called)
    monkeypatch.setattr(elastic, "count", _must_not_be_called)

    result = CliRunner().invoke(cli.app, ["stack", "status"])

    assert result.exit_code == 0, result.output
    assert "kafka: down, stage lag not shown" in result.output
    assert "elasticsearch: down, document count not shown" in result.output
    assert result.output.count(" down ") == 4  # kafka, elasticsearch, prefect, corenlp
    assert f"service logs: {(tmp_path / 'stack' / 'logs').resolve()}/<service>.log" in (
        result.output)


def test_status_right_after_a_first_start_says_the_lag_is_not_known_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafka.errors import CoordinatorNotAvailableError

    def coordinator_starting(_settings: object) -> None:
        raise CoordinatorNotAvailableError("FindCoordinatorResponse error for GROUP/x")

    up = [stack.ServiceStatus(name, name, 1, "-", None, True, tmp_path / f"{name}.log", "up")
          for name in ("kafka", "elasticsearch")]
    monkeypatch.setenv("NEWSFLOW_STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.setattr(stack, "status", lambda _settings: up)
    monkeypatch.setattr(kafka_admin, "lag", coordinator_starting)
    monkeypatch.setattr(elastic, "count", lambda _es, _settings: 0)
    monkeypatch.setattr(elastic, "client", lambda _settings: None)

    result = CliRunner().invoke(cli.app, ["stack", "status"])

    assert result.exit_code == 0, result.output
    assert "stage lag not known yet: the broker's group coordinator is still starting" in (
        result.output)
    assert "unavailable" not in result.output


def test_status_json_names_every_service_and_the_background_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sys

    from newsflow.stack import processes

    stack_dir = tmp_path / "stack"
    monkeypatch.setenv("NEWSFLOW_STACK_DIR", str(stack_dir))
    for var, value in (("KAFKA_BOOTSTRAP", "127.0.0.1:1"), ("ES_URL", "http://127.0.0.1:1"),
                       ("PREFECT_API_URL", "http://127.0.0.1:1/api"),
                       ("CORENLP_URL", "http://127.0.0.1:1")):
        monkeypatch.setenv(f"NEWSFLOW_{var}", value)
    run_dir = stack_dir / "run"
    pid = processes.start("worker-entities-0", [sys.executable, "-c", "import time; "
                          "time.sleep(30)"], run_dir=run_dir, log_path=tmp_path / "w.log")
    try:
        result = CliRunner().invoke(cli.app, ["stack", "status", "--json"])
    finally:
        processes.stop("worker-entities-0", run_dir)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert [(s["name"], s["host"], s["state"]) for s in status["services"]] == [
        ("kafka", 1, "down"), ("elasticsearch", 1, "down"), ("prefect-server", 1, "down"),
        ("corenlp", 1, "down")]
    assert status["services"][0]["endpoint"] == "127.0.0.1:1"
    assert status["workers"] == [{"stage": "entities", "host": 1, "pid": pid}]
