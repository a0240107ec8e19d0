"""Health probes of the services the pipeline uses: Kafka, Elasticsearch, CoreNLP, any HTTP API.

In: an endpoint. Out: True when the service answers as healthy, False on any connection,
protocol or decoding error; each probe gives up within a few seconds, so a stopped service is
reported down without a long wait. Through the one HTTP client (httpx) and kafka-python.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0


def get_json(url: str, timeout: float = TIMEOUT_SECONDS) -> Any:
    """GET ``url`` and decode its JSON body; None on any connection, HTTP or decoding error.

    ``trust_env=False``: an HTTP(S)_PROXY in the environment must not capture requests to
    the services (loopback on the local stack)."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.get(url)
        return response.json() if response.is_success else None
    except (httpx.HTTPError, ValueError):
        return None


def http_ok(url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """``url`` answers 2xx."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.get(url).is_success
    except httpx.HTTPError:
        return False


def corenlp_ready(url: str) -> bool:
    """The CoreNLP server at ``url`` answers ``/ready``. Our NerServer loads its model before
    it listens, so an answer means it can tag (the entities stage asks this too)."""
    return http_ok(url.rstrip("/") + "/ready")


def elasticsearch_healthy(es_url: str) -> bool:
    """The cluster is yellow or green (the local build has no ``GET /``: ask for health)."""
    body = get_json(es_url.rstrip("/") + "/_cluster/health?wait_for_status=yellow&timeout=1s")
    return isinstance(body, dict) and body.get("status") in ("green", "yellow")


def _accepts_connections(server: str, timeout: float) -> bool:
    """Something listens at ``server`` (``host:port``, Kafka's default port if none)."""
    try:
        parts = urlsplit(f"//{server.strip()}")
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 9092),
                                      timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


_KAFKA_LOG = logging.getLogger("kafka")
_QUIET = threading.Lock()


@contextmanager
def _kafka_client_quiet() -> Iterator[None]:
    """kafka-python logs each failed connection attempt (ERROR, WARNING); for a probe the
    failure is the answer, so the client's own lines are held back while one runs. A broker
    that is starting accepts connections before it answers: `stack up` would print them
    every half second."""
    with _QUIET:
        level = _KAFKA_LOG.level
        _KAFKA_LOG.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            _KAFKA_LOG.setLevel(level)


def kafka_healthy(bootstrap: str, timeout: float = 1.0, **client_options: Any) -> bool:
    """A broker at ``bootstrap`` answers a metadata request (kafka-python's admin client).

    When no bootstrap server accepts a connection the broker is down, said at once: the
    client would log an error per reconnect attempt until its bootstrap timeout."""
    if not any(_accepts_connections(s, timeout) for s in bootstrap.split(",") if s.strip()):
        return False
    with _kafka_client_quiet():
        try:
            client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="newsflow-probe",
                                      bootstrap_timeout_ms=int(timeout * 1000),
                                      request_timeout_ms=int(TIMEOUT_SECONDS * 1000),
                                      **client_options)
        except (KafkaError, OSError, ValueError) as exc:
            log.debug("kafka at %s: %r", bootstrap, exc)
            return False
        try:
            return bool(client.describe_cluster().get("brokers"))
        except (KafkaError, OSError) as exc:
            log.debug("kafka at %s: %r", bootstrap, exc)
            return False
        finally:
            client.close()
