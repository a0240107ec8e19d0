"""Health probes give up quickly and quietly on a service that is not there: a stopped stack is
reported down at once, without a page of client errors."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from workers.io import health


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_stopped_broker_is_down_at_once_and_quietly(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kafka")
    started = time.monotonic()
    assert not health.kafka_healthy(f"127.0.0.1:{closed_port}")
    assert not health.kafka_healthy(f"127.0.0.1:{closed_port},[::1]:{closed_port}")
    assert time.monotonic() - started < 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_stopped_http_services_are_down(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    assert not health.elasticsearch_healthy(url)
    assert not health.corenlp_ready(url)
    assert not health.http_ok(url)
    assert health.get_json(url) is None


def test_a_broker_that_accepts_but_does_not_answer_is_down_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What a starting Kafka looks like: its port is open before it serves requests.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        caplog.set_level(logging.INFO, logger="kafka")
        level = logging.getLogger("kafka").level
        started = time.monotonic()
        assert not health.kafka_healthy(f"127.0.0.1:{port}", timeout=0.5)
        assert time.monotonic() - started < 5
    assert not [r for r in caplog.records if r.name.startswith("kafka")
                and r.levelno >= logging.WARNING]
    assert logging.getLogger("kafka").level == level  # restored after the probe
