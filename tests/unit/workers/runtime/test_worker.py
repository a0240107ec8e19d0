"""The Kafka worker loop's own decisions, with fake clients: no services needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka.errors import KafkaConnectionError

from workers.clean.extract import TIME_LIMIT_SECONDS
from workers.runtime.backoff import Backoff
from workers.runtime.metrics import RETRIES
from workers.runtime.worker import KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS, Worker, max_poll_interval_ms
from workers.settings import WorkerSettings
from workers.topology import STAGES


def test_max_poll_interval_covers_a_batch_of_pages_at_their_time_limit() -> None:
    """A clean batch of pathological pages, each using its whole extraction time limit on
    every attempt, must not get the worker evicted from its group as stuck."""
    settings = WorkerSettings(batch_size=200, stage_attempts=3)
    spec = STAGES["clean"]
    assert spec.seconds_per_message > TIME_LIMIT_SECONDS  # the limit plus a restart
    worst_ms = (1 + 3) * 200 * TIME_LIMIT_SECONDS * 1000
    assert max_poll_interval_ms(spec, settings) > worst_ms
    # Stages without slow messages keep Kafka's default; a tiny batch never goes below it.
    assert max_poll_interval_ms(STAGES["index"], WorkerSettings(batch_size=10)) == \
        KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS
    assert max_poll_interval_ms(spec, WorkerSettings(batch_size=1, stage_attempts=1)) == \
        KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS


class _FlakyConsumer:
    """Raises the given errors from its first polls, then has nothing to give."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.polls = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.polls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {}

    def close(self) -> None:
        pass


def _worker(consumer: _FlakyConsumer) -> Worker:
    # Only the consumer is reached: a failed or empty poll never processes, writes or commits.
    none = cast(Any, None)
    closes = SimpleNamespace(flush=lambda: None, close=lambda: None)  # for run()'s close()
    return Worker(STAGES["clean"], WorkerSettings(),
                  processor=cast(Any, SimpleNamespace(stage=closes)),
                  sink=none, consumer=cast(Any, consumer), producer=cast(Any, closes),
                  poll_backoff=Backoff(first=0.01))


def test_a_poll_failing_while_the_broker_is_down_is_waited_out() -> None:
    # kafka-python 3.0 can raise KafkaConnectionError from poll() (finding the group
    # coordinator) while the broker restarts; the worker used to exit on it.
    retries = RETRIES.labels("clean", "poll")
    before = retries._value.get()
    consumer = _FlakyConsumer(KafkaConnectionError("111 ECONNREFUSED"),
                              KafkaConnectionError("111 ECONNREFUSED"))
    worker = _worker(consumer)
    assert [worker.step() for _ in range(3)] == [None, None, 0]
    assert consumer.polls == 3
    assert retries._value.get() == before + 2
    assert worker.poll_backoff.delay == 0.01  # back to the first delay once a poll succeeds


def test_a_failing_poll_is_not_idle_time() -> None:
    # Four failed polls wait 0.01 + 0.02 + 0.04 + 0.08 s, longer than the worker may idle: it
    # must still be there when the broker is back, and stop only once that is quiet.
    consumer = _FlakyConsumer(*(KafkaConnectionError("111 ECONNREFUSED") for _ in range(4)))
    _worker(consumer).run(max_idle_seconds=0.05)
    assert consumer.errors == []
    assert consumer.polls > 4  # it polled the broker after the outage


def test_a_poll_failing_for_good_still_stops_the_worker() -> None:
    worker = _worker(_FlakyConsumer(ValueError("not a broker fault")))
    with pytest.raises(ValueError, match="not a broker fault"):
        worker.step()
