"""Dead letters as records: what the runtime wrote to ``<prefix>.dlq``, read back and filtered.

A dead letter carries the original bytes and key of the input message and the headers the
runtime adds: ``newsflow.stage``, ``.reason``, ``.error_type``, ``.error``, ``.source``
(topic/partition/offset), ``.attempts`` and, when known, ``.id`` (article id). In: records of
the dead-letter topic. Out: :class:`DeadLetter` values (``newsflow dlq list``, the audit, the
``replay-dlq`` flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from workers.io.kafka_admin import read_all
from workers.settings import WorkerSettings
from workers.topology import DLQ


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # in the dead-letter topic
    offset: int
    at: datetime  # when it was dead-lettered (record timestamp)
    key: bytes | None
    value: bytes
    stage: str
    reason: str
    error_type: str
    error: str
    source: str  # topic/partition/offset of the input message
    attempts: int
    article_id: str | None
    headers: tuple[tuple[str, bytes], ...] = field(repr=False, default=())  # the original ones

    @property
    def ref(self) -> str:
        """Where it sits in the dead-letter topic: ``partition/offset``."""
        return f"{self.partition}/{self.offset}"

    def summary(self) -> dict[str, Any]:
        return {"ref": self.ref, "at": self.at.isoformat(), "stage": self.stage,
                "reason": self.reason, "error_type": self.error_type, "error": self.error,
                "source": self.source, "attempts": self.attempts, "id": self.article_id,
                "bytes": len(self.value)}


def parse(record: ConsumerRecord) -> DeadLetter:
    ours = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()
            if k.startswith("newsflow.")}
    attempts = ours.get("newsflow.attempts", "1")
    return DeadLetter(
        partition=record.partition, offset=record.offset,
        at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key, value=record.value or b"",
        stage=ours.get("newsflow.stage", ""), reason=ours.get("newsflow.reason", ""),
        error_type=ours.get("newsflow.error_type", ""), error=ours.get("newsflow.error", ""),
        source=ours.get("newsflow.source", ""),
        attempts=int(attempts) if attempts.isdigit() else 1,
        article_id=ours.get("newsflow.id") or None,
        headers=tuple((k, v) for k, v in record.headers or () if not k.startswith("newsflow.")),
    )


def _matches(d: DeadLetter, stage: str | None, reason: str | None, since: datetime | None,
             until: datetime | None) -> bool:
    return ((stage is None or d.stage == stage) and (reason is None or d.reason == reason)
            and (since is None or d.at >= _utc(since)) and (until is None or d.at < _utc(until)))


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # a time without a zone is taken as UTC


def list_dead(settings: WorkerSettings, *, stage: str | None = None, reason: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> list[DeadLetter]:
    """The dead letters matching every filter given, oldest first per partition."""
    return [d for d in map(parse, read_all(settings, settings.topic(DLQ)))
            if _matches(d, stage, reason, since, until)]


