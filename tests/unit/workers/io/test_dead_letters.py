"""Dead letters read back from their records, and filtered, without Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from workers.io import dead_letters
from workers.io.dead_letters import list_dead, parse
from workers.settings import WorkerSettings

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def record(offset: int, at: datetime = T0, stage: str = "clean", reason: str = "not-json",
           headers: list[tuple[str, bytes]] | None = None, partition: int = 0,
           value: bytes | None = b"{bad", key: bytes | None = None) -> Any:
    ours = [("newsflow.stage", stage.encode()), ("newsflow.reason", reason.encode())]
    return SimpleNamespace(partition=partition, offset=offset,
                           timestamp=int(at.timestamp() * 1000), key=key, value=value,
                           headers=ours + (headers or []))


def test_a_record_with_every_header_becomes_a_dead_letter() -> None:
    r = record(7, partition=2, key=b"abc", value=b'{"url": 1}', headers=[
        ("newsflow.error_type", b"ValidationError"), ("newsflow.error", b"url: bad \xff"),
        ("newsflow.source", b"t.raw/1/40"), ("newsflow.attempts", b"3"),
        ("newsflow.id", b"abc"), ("traceparent", b"00-1"), ("origin", b"crawler")])
    d = parse(r)
    assert (d.partition, d.offset, d.ref, d.at) == (2, 7, "2/7", T0)
    assert (d.key, d.value) == (b"abc", b'{"url": 1}')
    assert (d.stage, d.reason, d.error_type) == ("clean", "not-json", "ValidationError")
    assert d.error == "url: bad \ufffd"  # undecodable bytes do not stop the reading
    assert (d.source, d.attempts, d.article_id) == ("t.raw/1/40", 3, "abc")
    # The message's own headers are kept, to be sent again on a replay; ours are not.
    assert d.headers == (("traceparent", b"00-1"), ("origin", b"crawler"))
    assert d.summary() == {"ref": "2/7", "at": T0.isoformat(), "stage": "clean",
                           "reason": "not-json", "error_type": "ValidationError",
                           "error": "url: bad \ufffd", "source": "t.raw/1/40", "attempts": 3,
                           "id": "abc", "bytes": 10}


def test_missing_or_odd_headers_have_plain_defaults() -> None:
    r = SimpleNamespace(partition=0, offset=1, timestamp=0, key=None, value=None,
                        headers=[("newsflow.attempts", b"many"), ("newsflow.id", b"")])
    d = parse(r)
    assert (d.stage, d.reason, d.error, d.source) == ("", "", "", "")
    assert d.attempts == 1 and d.article_id is None and d.value == b""
    assert d.at == datetime(1970, 1, 1, tzinfo=UTC) and d.headers == ()
    assert parse(SimpleNamespace(partition=0, offset=2, timestamp=0, key=None, value=b"x",
                                 headers=None)).headers == ()


RECORDS = [
    record(0, T0, "clean", "not-json"),
    record(1, T0 + timedelta(hours=1), "clean", "invalid"),
    record(2, T0 + timedelta(hours=2), "entities", "stage-error"),
    record(3, T0 + timedelta(hours=3), "clean", "not-json"),
]


@pytest.fixture
def dlq(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    topics: list[str] = []

    def read_all(settings: WorkerSettings, topic: str) -> list[Any]:
        topics.append(topic)
        return RECORDS

    monkeypatch.setattr(dead_letters, "read_all", read_all)
    return topics


def _offsets(**filters: Any) -> list[int]:
    return [d.offset for d in list_dead(WorkerSettings(topic_prefix="t"), **filters)]


def test_every_dead_letter_without_filters_read_from_the_dead_letter_topic(
        dlq: list[str]) -> None:
    assert _offsets() == [0, 1, 2, 3]
    assert dlq == ["t.dlq"]


def test_filters_by_stage_and_reason_combine(dlq: list[str]) -> None:
    assert _offsets(stage="clean") == [0, 1, 3]
    assert _offsets(reason="not-json") == [0, 3]
    assert _offsets(stage="clean", reason="invalid") == [1]
    assert _offsets(stage="index") == []


def test_the_time_range_includes_its_start_and_excludes_its_end(dlq: list[str]) -> None:
    one, three = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    assert _offsets(since=one) == [1, 2, 3]
    assert _offsets(until=three) == [0, 1, 2]
    assert _offsets(since=one, until=three, stage="clean") == [1]


def test_a_time_without_a_zone_is_taken_as_utc(dlq: list[str]) -> None:
    naive = datetime(2024, 3, 1, 13, 0)  # 13:00 UTC
    assert _offsets(since=naive) == [1, 2, 3]
    paris = timezone(timedelta(hours=1))  # 13:00 in UTC+1 is 12:00 UTC
    assert _offsets(since=datetime(2024, 3, 1, 13, 0, tzinfo=paris)) == [0, 1, 2, 3]
