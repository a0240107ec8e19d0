"""The runtime's message handling, over a small stage written here: no services needed."""

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka.errors import KafkaConnectionError
from pydantic import BaseModel

from newsflow.config import Settings
from workers.runtime.backoff import Backoff
from workers.runtime.batch import BatchProcessor, Message
from workers.runtime.metrics import RETRIES
from workers.runtime.worker import Worker
from workers.stage import Emit, Fail, Skip, TransientError
from workers.topology import STAGES, StageSpec


class In(BaseModel):
    id: str
    text: str


class Out(BaseModel):
    id: str
    upper: str


class Shouting:
    """Upper-cases text; skips 'skip', fails on 'fail', and crashes the batch on 'boom'."""

    name = "shout"
    version = "1"

    def process(self, batch: Sequence[In]) -> list:
        if any(a.text == "boom" for a in batch):
            raise RuntimeError("boom")
        out: list = []
        for a in batch:
            if a.text == "skip":
                out.append(Skip("too-short", "one word"))
            elif a.text == "fail":
                out.append(Fail(ValueError("cannot")))
            else:
                out.append(Emit(Out(id=a.id, upper=a.text.upper())))
        return out

    def close(self) -> None:
        pass


SPEC = StageSpec("shout", "1", "in", "out", In, Out)


def run(values: list[bytes], max_bytes: int = 1000):
    processor = BatchProcessor(SPEC, Shouting(), max_bytes)
    return processor.run([Message(v, offset=i) for i, v in enumerate(values)])


def msg(i: int, text: str) -> bytes:
    return json.dumps({"id": str(i), "text": text}).encode()


def test_every_message_gets_exactly_one_outcome_in_order():
    values = [msg(0, "a"), b"{not json", msg(2, "skip"), b'{"id": "3"}', msg(4, "fail"),
              b"x" * 2000, b"[1, 2]", b"", msg(8, "b")]
    results = run(values)
    assert [r.message.offset for r in results] == list(range(len(values)))
    assert [(r.kind, r.reason) for r in results] == [
        ("emitted", None), ("dead", "not-json"), ("skipped", "too-short"),
        ("dead", "invalid"), ("dead", "stage-error"), ("dead", "too-large"),
        ("dead", "not-json"), ("dead", "empty-message"), ("emitted", None),
    ]
    assert results[0].output == Out(id="0", upper="A")
    assert "text: Field required" in (results[3].error or "")
    assert results[4].error_type == "ValueError"


def test_errors_are_told_apart_as_the_json_module_tells_them():
    # Validation parses with pydantic's JSON parser; on any error the message is parsed again
    # with the json module, so the reason, error type and article id stay the same as ever.
    results = run([b"{not json", b'"a string"', b'{"id": "7", "text": 3}'])
    assert [(r.reason, r.error_type, r.article_id) for r in results] == [
        ("not-json", "JSONDecodeError", None), ("not-json", "ValueError", None),
        ("invalid", "ValidationError", "7")]
    assert "Expecting property name" in (results[0].error or "")


def test_json_the_json_module_accepts_is_still_accepted():
    # pydantic's parser refuses a UTF-8 byte-order mark, which the json module skips: such a
    # message goes the two-step way and is emitted as before.
    [result] = run([b"\xef\xbb\xbf" + msg(0, "a")])
    assert (result.kind, result.output) == ("emitted", Out(id="0", upper="A"))


def test_a_batch_that_crashes_is_retried_one_by_one_and_only_the_culprit_dies():
    results = run([msg(0, "a"), msg(1, "boom"), msg(2, "c")])
    assert [(r.kind, r.article_id) for r in results] == [
        ("emitted", "0"), ("dead", "1"), ("emitted", "2")]
    assert results[1].reason == "stage-error" and results[1].error == "boom"


class StoreDown(Shouting):
    def process(self, batch: Sequence[In]) -> list:
        raise TransientError("state store unavailable")


def test_an_infrastructure_fault_is_raised_for_retry_never_dead_lettered():
    processor = BatchProcessor(SPEC, StoreDown(), 1000)
    with pytest.raises(TransientError):
        processor.run([Message(msg(0, "a"))])


class Flaky(Shouting):
    """Fails 'flaky' on its first run and 'fail' on every run, counting runs per article."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def process(self, batch: Sequence[In]) -> list:
        out: list = []
        for a in batch:
            self.runs[a.id] = self.runs.get(a.id, 0) + 1
            if a.text == "fail" or (a.text == "flaky" and self.runs[a.id] == 1):
                out.append(Fail(ValueError(f"cannot {a.id}")))
            else:
                out.append(Emit(Out(id=a.id, upper=a.text.upper())))
        return out


def test_a_failing_article_is_dead_lettered_after_the_bounded_number_of_runs():
    stage = Flaky()
    processor = BatchProcessor(SPEC, stage, 1000, max_attempts=3)
    results = processor.run([Message(msg(0, "a")), Message(msg(1, "fail")),
                             Message(msg(2, "flaky"))])
    assert [(r.kind, r.attempts) for r in results] == [("emitted", 1), ("dead", 3),
                                                       ("emitted", 2)]
    assert stage.runs == {"0": 1, "1": 3, "2": 2}
    assert results[1].reason == "stage-error" and results[1].error == "cannot 1"


def test_one_attempt_means_no_retry():
    stage = Flaky()
    results = BatchProcessor(SPEC, stage, 1000, max_attempts=1).run([Message(msg(1, "flaky"))])
    assert [(r.kind, r.attempts) for r in results] == [("dead", 1)]
    assert stage.runs == {"1": 1}


def test_a_crashing_batch_does_not_count_against_its_articles():
    results = BatchProcessor(SPEC, Shouting(), 1000, max_attempts=2).run(
        [Message(msg(0, "a")), Message(msg(1, "boom"))])
    assert [(r.kind, r.attempts) for r in results] == [("emitted", 1), ("dead", 2)]


def test_kafka_retriable_errors_are_transient_and_others_are_not():
    from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError

    from workers.runtime.backoff import transient as is_transient

    assert is_transient(KafkaTimeoutError())
    assert is_transient(NotLeaderForPartitionError())  # a leader change
    assert not is_transient(MessageSizeTooLargeError())
    assert not is_transient(ValueError("bad article"))


def test_max_poll_interval_covers_a_batch_of_pages_at_their_time_limit() -> None:
    """A clean batch of pathological pages, each using its whole extraction time limit on
    every attempt, must not get the worker evicted from its group as stuck."""
    from newsflow.config import Settings
    from workers.clean.extract import TIME_LIMIT_SECONDS
    from workers.runtime.worker import KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS, max_poll_interval_ms
    from workers.topology import STAGES

    settings = Settings(batch_size=200, stage_attempts=3)
    spec = STAGES["clean"]
    assert spec.seconds_per_message > TIME_LIMIT_SECONDS  # the limit plus a restart
    worst_ms = (1 + 3) * 200 * TIME_LIMIT_SECONDS * 1000
    assert max_poll_interval_ms(spec, settings) > worst_ms
    # Stages without slow messages keep Kafka's default; a tiny batch never goes below it.
    assert max_poll_interval_ms(STAGES["index"], Settings(batch_size=10)) == \
        KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS
    assert max_poll_interval_ms(spec, Settings(batch_size=1, stage_attempts=1)) == \
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
    return Worker(STAGES["clean"], Settings(), processor=cast(Any, SimpleNamespace(stage=closes)),
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
