"""flows.backfill's parts that need no services: the checkpoint, the pacing, the batches and
the Kafka range, with a fake clock and a fake consumer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka.structs import OffsetAndTimestamp, TopicPartition

from flows import backfill
from flows.archives import ArchiveRecord
from flows.backfill import (
    BackfillReport,
    Checkpoint,
    Pacer,
    _acknowledged,
    _batched,
    backfill_key,
    checkpoint_path,
    kafka_range,
)
from flows.publish import PublishReport
from flows.settings import FlowSettings

SINCE = datetime(2024, 5, 1, tzinfo=UTC)


def _settings(tmp_path: Path, prefix: str = "t") -> FlowSettings:
    return FlowSettings(topic_prefix=prefix, stack_dir=tmp_path / "stack")


# --- the checkpoint ---------------------------------------------------------------------------


def test_a_checkpoint_is_saved_and_loaded_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "cp.json"
    saved = Checkpoint(key="k", position=12, offsets={0: 5, 3: 9}, ends={0: 7, 3: 9},
                       published=11, total=20)
    saved.save(path)
    loaded = Checkpoint.load(path, "k")
    assert loaded == saved  # partition numbers come back as ints, not JSON's strings
    assert loaded.updated_at is not None
    assert [p.name for p in path.parent.iterdir()] == ["cp.json"]  # no temporary file left


def test_no_checkpoint_file_is_a_fresh_start(tmp_path: Path) -> None:
    assert Checkpoint.load(tmp_path / "none.json", "k") == Checkpoint(key="k")


def test_the_checkpoint_of_another_backfill_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    Checkpoint(key="other", position=3).save(path)
    with pytest.raises(ValueError, match="belongs to another backfill"):
        Checkpoint.load(path, "mine")


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cp.json"
    Checkpoint(key="k", position=1).save(path)

    def killed(self: Path, target: Path) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(Path, "replace", killed)
    with pytest.raises(OSError):
        Checkpoint(key="k", position=2).save(path)
    monkeypatch.undo()
    assert Checkpoint.load(path, "k").position == 1


def test_the_key_says_what_is_backfilled_whatever_the_order_of_its_filters(
        tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = backfill_key("archives", settings, paths=["/a"], since=SINCE, until=None)
    assert key == backfill_key("archives", settings, until=None, since=SINCE, paths=["/a"])
    assert json.loads(key) == {"kind": "archives", "topic": "t.raw", "paths": ["/a"],
                               "since": str(SINCE), "until": None}
    assert key != backfill_key("archives", settings, paths=["/a"], since=SINCE,
                               until=SINCE + timedelta(days=1))
    assert key != backfill_key("archives", _settings(tmp_path, "u"), paths=["/a"],
                               since=SINCE, until=None)


def test_each_backfill_has_its_own_checkpoint_file_under_the_stack_folder(
        tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    one, again, other = (checkpoint_path(settings, k) for k in ("one", "one", "other"))
    assert one == again != other
    assert one.parent == (tmp_path / "stack" / "backfill").resolve()
    assert one.suffix == ".json" and len(one.stem) == 16


# --- pacing and batches -----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(backfill, "time", fake)
    return fake


def test_the_pacer_holds_the_loop_to_its_rate(clock: FakeClock) -> None:
    pacer = Pacer(10.0)  # 10 items a second
    pacer.wait(5)  # the first batch goes at once
    pacer.wait(5)  # the next one when the first's half second is over
    pacer.wait(10)
    assert clock.slept == pytest.approx([0.5, 0.5])
    clock.now += 5.0  # a slow publish: the time already spent counts, no extra wait
    pacer.wait(10)
    assert clock.slept == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize("rate", [None, 0])
def test_no_rate_means_no_waiting(clock: FakeClock, rate: float | None) -> None:
    pacer = Pacer(rate)
    for _ in range(3):
        pacer.wait(1000)
    assert clock.slept == []


def _records(n: int) -> list[ArchiveRecord]:
    return [ArchiveRecord(i, b"{}", None, None) for i in range(n)]


def test_records_are_batched_in_order_with_a_short_last_batch() -> None:
    batches = list(_batched(iter(_records(5)), 2))
    assert [[r.position for r in b] for b in batches] == [[0, 1], [2, 3], [4]]
    assert list(_batched(iter([]), 2)) == []


def test_an_acknowledged_batch_is_counted_checkpointed_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    cp = Checkpoint(key="k", position=4, published=10, total=30)
    report = BackfillReport(path, 10, 0, 30)
    seen: list[tuple[int, int | None]] = []
    sent = PublishReport("t.raw", published=4, ids=["a", "b", "c"], unkeyed=["raw:0/9"])
    assert not _acknowledged(cp, path, report, sent, lambda d, t: seen.append((d, t)), None)
    assert Checkpoint.load(path, "k").published == 14
    assert (report.published, report.published_now) == (14, 4)
    assert report.ids == ["a", "b", "c"] and report.unkeyed == ["raw:0/9"]
    assert seen == [(14, 30)]
    # With stop_after, the run stops once it has published that many.
    again = PublishReport("t.raw", published=4)
    assert _acknowledged(cp, path, report, again, None, stop_after=8)
    assert report.published_now == 8


# --- the Kafka range --------------------------------------------------------------------------


class FakeConsumer:
    """Three partitions of ``t.raw``: offsets found by time as given, else none."""

    def __init__(self, ends: dict[int, int], at: dict[int, dict[int, int]]) -> None:
        self.ends = ends
        self.at = at  # time in ms -> partition -> first offset at or after it
        self.asked: list[int] = []

    def partitions_for_topic(self, topic: str) -> set[int]:
        assert topic == "t.raw"
        return set(self.ends)

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp.partition] for tp in tps}

    def offsets_for_times(self, times: dict[TopicPartition, int]
                          ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        out: dict[TopicPartition, OffsetAndTimestamp | None] = {}
        for tp, ms in times.items():
            self.asked.append(ms)
            offset = self.at.get(ms, {}).get(tp.partition)
            out[tp] = None if offset is None else OffsetAndTimestamp(offset, ms, -1)
        return out


def test_the_kafka_range_is_the_offsets_between_the_two_times_per_partition() -> None:
    until = SINCE + timedelta(hours=1)
    since_ms, until_ms = int(SINCE.timestamp() * 1000), int(until.timestamp() * 1000)
    consumer = FakeConsumer(
        ends={0: 10, 1: 5, 2: 0},
        # partition 1 has nothing after 'until', partition 2 nothing at all
        at={since_ms: {0: 3, 1: 4}, until_ms: {0: 7}})
    first, last = kafka_range(cast(Any, consumer), "t.raw", SINCE, until)
    assert first == {0: 3, 1: 4, 2: 0}
    assert last == {0: 7, 1: 5, 2: 0}
    assert set(consumer.asked) == {since_ms, until_ms}


def test_without_an_end_time_the_range_runs_to_the_end_of_each_partition() -> None:
    since_ms = int(SINCE.timestamp() * 1000)
    consumer = FakeConsumer(ends={0: 10, 1: 5}, at={since_ms: {0: 2}})
    first, last = kafka_range(cast(Any, consumer), "t.raw", SINCE, None)
    assert first == {0: 2, 1: 5}  # nothing in partition 1 since then: an empty range
    assert last == {0: 10, 1: 5}


def test_a_topic_without_partitions_has_an_empty_range() -> None:
    consumer = SimpleNamespace(partitions_for_topic=lambda topic: None,
                               end_offsets=lambda tps: {}, offsets_for_times=lambda times: {})
    assert kafka_range(cast(Any, consumer), "t.raw", SINCE, None) == ({}, {})
