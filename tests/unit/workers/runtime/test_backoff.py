"""The data plane's retry policy: which faults are waited out, and how long."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from elasticsearch import ApiError, ConnectionError
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError

from workers.runtime.backoff import MAX_DELAY, Backoff, HandBack, retrying, transient
from workers.stage import TransientError


def _api_error(status: int) -> ApiError:
    return ApiError("refused", cast(Any, SimpleNamespace(status=status)), body={})


def test_kafka_retriable_errors_are_transient_and_others_are_not():
    assert transient(KafkaTimeoutError())
    assert transient(NotLeaderForPartitionError())  # a leader change
    assert not transient(MessageSizeTooLargeError())
    assert not transient(ValueError("bad article"))


def test_elasticsearch_overload_and_outages_are_transient_but_a_bad_request_is_not():
    assert transient(TransientError("state store unavailable"))
    assert transient(ConnectionError("connection refused"))
    assert transient(_api_error(429)) and transient(_api_error(503))
    assert not transient(_api_error(400)) and not transient(_api_error(404))


def test_the_wait_doubles_up_to_the_cap_and_starts_over_after_a_reset():
    backoff = Backoff(first=1.0)
    waits = [backoff.next() for _ in range(8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_DELAY, MAX_DELAY, MAX_DELAY]
    backoff.reset()
    assert backoff.next() == 1.0


class Attempts:
    """Raises the given errors on its first calls, then returns 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def _retry(attempt: Attempts, stopping: bool = False) -> tuple[str, list[float], list[Any]]:
    waits: list[float] = []
    retries: list[Any] = []
    result = retrying(attempt, wait=waits.append, stopping=lambda: stopping,
                      on_retry=lambda exc, delay: retries.append((exc, delay)))
    return result, waits, retries


def test_transient_faults_are_waited_out_and_each_retry_is_reported():
    first, second = TransientError("down"), KafkaTimeoutError()
    attempt = Attempts(first, second)
    result, waits, retries = _retry(attempt)
    assert result == "done" and attempt.calls == 3
    assert waits == [0.5, 1.0]
    assert retries == [(first, 0.5), (second, 1.0)]


def test_an_error_that_is_not_transient_is_raised_at_once():
    attempt = Attempts(ValueError("a bug"))
    waits: list[float] = []
    with pytest.raises(ValueError, match="a bug"):
        retrying(attempt, wait=waits.append, stopping=lambda: False,
                 on_retry=lambda exc, delay: pytest.fail("not a retry"))
    assert attempt.calls == 1 and waits == []


def test_stopping_during_a_fault_hands_the_batch_back_without_waiting():
    fault = TransientError("down")
    attempt = Attempts(fault)
    waits: list[float] = []
    with pytest.raises(HandBack) as raised:
        retrying(attempt, wait=waits.append, stopping=lambda: True,
                 on_retry=lambda exc, delay: pytest.fail("not a retry"))
    assert raised.value.__cause__ is fault
    assert attempt.calls == 1 and waits == []
