"""Waiting for outcomes, without Kafka or Elasticsearch: the report, the priority of
outcomes, and the wait's progress and timeout (with a fake clock)."""

from __future__ import annotations

from typing import Any

import pytest

from newsflow import outcomes
from newsflow.outcomes import OutcomeWatch, WaitReport, best_outcomes


def test_the_report_counts_each_outcome_and_is_complete_without_missing_ones() -> None:
    report = WaitReport(indexed={"a", "b"}, skipped={"c"}, dead=set(), missing=["d"])
    assert report.counts() == "indexed 2, skipped 1, dead-lettered 0"
    assert not report.complete
    report.missing = []
    assert report.complete
    assert WaitReport().complete  # nothing published, nothing to wait for


def test_the_best_outcome_wins_and_the_rest_are_missing() -> None:
    report = best_outcomes({"a", "b", "c", "d", "e"}, indexed={"a"}, skipped={"a", "b"},
                           dead={"a", "b", "c", "z"})
    assert report.indexed == {"a"}  # indexed beats a skip and a dead letter (a replay)
    assert report.skipped == {"b"}  # a skip beats a dead letter
    assert report.dead == {"c"}
    assert report.missing == ["d", "e"]
    # Outcomes of articles not waited for are not reported.
    assert "z" not in report.dead


def _watch(skipped: set[str], dead: set[str], indexed: set[str]) -> tuple[OutcomeWatch, list]:
    """A watch whose topics and index are the sets given (no clients are made)."""
    watch = OutcomeWatch.__new__(OutcomeWatch)
    watch.skipped, watch.dead, watch.indexed = skipped, dead, set()
    asked: list[list[str]] = []

    def look_up(ids: list[str]) -> set[str]:
        asked.append(ids)
        return indexed & set(ids)

    watch._read_outcome_topics = lambda: None  # type: ignore[method-assign]
    watch._indexed = look_up  # type: ignore[method-assign]
    return watch, asked


def test_check_looks_up_only_article_ids_in_the_index() -> None:
    watch, asked = _watch(skipped={"b"}, dead={"raw:0/4", "b"}, indexed={"a", "b"})
    report = watch.check(["a", "b", "raw:0/4", "c"])
    assert asked == [["a", "b", "c"]]  # raw:<p>/<o> has no document to look for
    assert (report.indexed, report.skipped, report.dead) == ({"a", "b"}, set(), {"raw:0/4"})
    assert report.missing == ["c"]
    watch.check(["a", "b", "raw:0/4", "c"])
    assert asked[1] == ["c"]  # found indexed once, not asked about again


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(outcomes, "time", fake)
    return fake


def test_the_wait_reports_progress_as_outcomes_arrive_and_ends_when_all_have_one(
        clock: FakeClock) -> None:
    arrivals = iter([set(), {"a"}, {"a"}, {"a", "b", "c"}])
    watch, _ = _watch(skipped=set(), dead=set(), indexed=set())
    watch._indexed = lambda ids: next(arrivals)  # type: ignore[method-assign]
    steps: list[int] = []
    report = watch.wait(["a", "b", "c"], timeout=60, progress=steps.append)
    assert report.complete and report.indexed == {"a", "b", "c"}
    assert steps == [1, 2]
    assert report.seconds == pytest.approx(3 * outcomes.POLL_SECONDS)


def test_the_wait_ends_at_the_timeout_with_the_missing_ones(clock: FakeClock) -> None:
    watch, _ = _watch(skipped={"a"}, dead=set(), indexed=set())
    report = watch.wait(["a", "b"], timeout=2.0)
    assert not report.complete and report.missing == ["b"] and report.skipped == {"a"}
    assert report.seconds > 2.0


def test_a_url_is_read_from_a_raw_message_when_it_has_one() -> None:
    url_of: Any = outcomes._url_of
    assert url_of(b'{"url": "https://e.com/a"}') == "https://e.com/a"
    assert url_of(b'{"url": 3}') == "(no URL)"
    assert url_of(b"{bad") == url_of(b"[1]") == url_of(None) == "(not a JSON object)"
