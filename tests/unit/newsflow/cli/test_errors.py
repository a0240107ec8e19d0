"""Errors a user can fix are one clear line from the CLI, not a page of traceback: a service
that cannot be reached (the client's retry warnings before it keep their cause and lose their
tracebacks), a missing input file."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.cli.errors import explain
from workers.runtime import logs


def _newsflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsflow", *args], capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, **env})


def test_search_with_elasticsearch_down_is_one_clear_error() -> None:
    result = _newsflow("--es-url", "http://127.0.0.1:1", "search", "oil")
    assert result.returncode == 1
    assert "error: cannot reach Elasticsearch: ConnectionError" in result.stderr
    assert "127.0.0.1', port=1): Failed to establish a new connection: [Errno 111]" in (
        result.stderr)  # where it looked and why, brackets and all (not taken as markup)
    assert "newsflow stack status" in result.stderr
    assert "Traceback" not in result.stderr
    # The client's retries are still logged, one line each, with their cause.
    retries = [line for line in result.stderr.splitlines() if "Retrying request" in line]
    assert retries and all("Connection refused" in line for line in retries)


def test_publish_with_prefect_down_is_one_clear_error() -> None:
    # The flag wins over a PREFECT_API_URL already set (the integration suite sets one). The
    # topic prefix has no topics: had the flow run all the same, nothing would be published.
    result = _newsflow("--prefect-api-url", "http://127.0.0.1:1/api", "publish", "--seeds",
                       PREFECT_API_URL="http://127.0.0.1:4200/api",
                       NEWSFLOW_TOPIC_PREFIX="news-cli-errors-no-topics")
    assert result.returncode == 1
    assert "error: cannot reach Prefect: Failed to reach API at http://127.0.0.1:1/api" in (
        result.stderr)
    assert "--no-prefect" in result.stderr
    assert "Traceback" not in result.stderr


def test_other_errors_keep_their_traceback() -> None:
    assert explain(ValueError("a bug")) is None
    assert explain(RuntimeError("something else")) is None
    from kafka.errors import KafkaTimeoutError

    bootstrap = explain(KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1"))
    assert bootstrap is not None
    assert bootstrap.startswith("cannot reach Kafka: KafkaTimeoutError: Unable to bootstrap")
    assert explain(KafkaTimeoutError("Batch expired")) is None  # not a reachability error


@pytest.fixture
def our_log() -> Iterator[io.StringIO]:
    """What logs.setup() (as an entry point runs it) writes, undone afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.setup("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]  # a StreamHandler
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_retry_warnings_of_clients_lose_their_traceback(our_log: io.StringIO) -> None:
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError:
        logging.getLogger("elastic_transport.transport").warning(
            "Retrying request after failure (attempt %d of %d)", 0, 3, exc_info=True)
        logging.getLogger("newsflow.test").warning("our own warning", exc_info=True)
    lines = our_log.getvalue().splitlines()
    assert lines[0].endswith("Retrying request after failure (attempt 0 of 3) "
                             "(ConnectionRefusedError: [Errno 111] Connection refused)")
    assert "our own warning" in lines[1]
    assert lines[2] == "Traceback (most recent call last):"  # ours keep theirs


def test_offline_worker_with_a_missing_input_file_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = _newsflow("worker", "clean", "-i", str(missing))
    assert result.returncode == 2  # a usage error
    assert "does not exist" in result.stderr and "nope.jsonl" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["[/x]", "[bold]x"])
def test_bad_input_is_quoted_as_given_not_read_as_markup(value: str) -> None:
    result = _newsflow("search", "oil", "--from", value)
    assert result.returncode == 1
    assert f"error: --from: not a date (YYYY-MM-DD or ISO 8601): '{value}'" in result.stderr
    assert "Traceback" not in result.stderr
