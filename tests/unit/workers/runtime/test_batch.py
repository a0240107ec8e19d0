"""decode -> validate -> process for a batch, over a small stage written here: no services."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.unit.workers.runtime.shouting import SPEC, In, Out, Shouting, msg, run
from workers.runtime.batch import BatchProcessor, Message
from workers.stage import Emit, Fail, TransientError


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
        super().__init__()
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
