"""flows.replay_dlq without Kafka: where replayed dead letters go, and in what chunks."""

from __future__ import annotations

from datetime import UTC, datetime

from flows.replay_dlq import ReplayReport, _chunks
from workers.io.dead_letters import DeadLetter
from workers.settings import WorkerSettings


def dead(offset: int, stage: str) -> DeadLetter:
    return DeadLetter(partition=0, offset=offset, at=datetime(2024, 1, 1, tzinfo=UTC),
                      key=None, value=b"{}", stage=stage, reason="stage-error",
                      error_type="ValueError", error="", source="t.raw/0/1", attempts=1,
                      article_id=None)


def test_replayed_dead_letters_are_counted_by_the_input_topic_of_their_stage() -> None:
    report = ReplayReport(replayed=[dead(0, "clean"), dead(1, "entities"), dead(2, "clean"),
                                    dead(3, "stories"), dead(4, "index")])
    assert report.by_topic(WorkerSettings(topic_prefix="t")) == {
        "t.raw": 2, "t.deduped": 1, "t.enriched": 1, "t.storied": 1}
    assert ReplayReport().by_topic(WorkerSettings(topic_prefix="t")) == {}


def test_dead_letters_are_sent_in_chunks_in_their_order() -> None:
    items = [dead(i, "clean") for i in range(5)]
    chunks = list(_chunks(items, 2))
    assert [[d.offset for d in c] for c in chunks] == [[0, 1], [2, 3], [4]]
    assert list(_chunks([], 2)) == []
