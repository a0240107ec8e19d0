"""Prefect flow ``backfill``: history re-run through the pipeline, resumably.

In: archives (JSONL, gzip, folders of .txt/.html, the shared corpora's formats:
``flows.archives``) filtered by date range and source, or the ``news.raw`` messages of a time
range. Out: those messages published into ``news.raw`` again, keyed by article id, at a
bounded rate, so the running stage workers re-process them alongside live traffic (a backfill
adds at most ``rate`` messages a second to the stages' input).

Progress is a checkpoint file, written atomically after every acknowledged batch:
- archives: the position of the next record to read;
- Kafka: the next offset of each partition, and the end offsets fixed at the first run (so the
  re-published messages, which land on the same topic, are never read again).
Run again after an interruption, a backfill continues from its checkpoint. At most the batch in
flight when it was killed is sent twice, and that changes nothing: it has the same key and the
same Elasticsearch ``_id``, and dedup decides the same way for the same article. The flow adds
the run record, logs and a progress artifact (key ``backfill-progress``) in the UI.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from pydantic import BaseModel, Field

from flows import archives
from flows import publish as pub
from flows.progress import Progress
from flows.settings import FlowSettings, load_settings
from workers.io import kafka_admin
from workers.io.kafka_clients import make_consumer, make_producer
from workers.topology import RAW

log = logging.getLogger(__name__)


# --- checkpoint and pacing -------------------------------------------------------------------


class Checkpoint(BaseModel):
    """Where a backfill stands; one JSON file per backfill (see :func:`checkpoint_path`)."""

    key: str  # what is backfilled: a file of another backfill is refused
    position: int = 0  # archives: records read (before filtering)
    offsets: dict[int, int] = Field(default_factory=dict)  # kafka: partition -> next offset
    ends: dict[int, int] = Field(default_factory=dict)  # kafka: partition -> end (exclusive)
    published: int = 0
    total: int | None = None
    done: bool = False
    updated_at: datetime | None = None

    def save(self, path: Path) -> None:
        self.updated_at = datetime.now(UTC)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=1))
        tmp.replace(path)  # atomic: a kill never leaves half a checkpoint

    @classmethod
    def load(cls, path: Path, key: str) -> Checkpoint:
        if not path.exists():
            return cls(key=key)
        checkpoint = cls.model_validate_json(path.read_text())
        if checkpoint.key != key:
            raise ValueError(f"checkpoint {path} belongs to another backfill ({checkpoint.key})")
        return checkpoint


def backfill_key(kind: str, settings: FlowSettings, **spec: Any) -> str:
    """A stable description of a backfill: source, filters and target topic."""
    return json.dumps({"kind": kind, "topic": settings.topic(RAW), **spec}, sort_keys=True,
                      default=str)


def checkpoint_path(settings: FlowSettings, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return settings.stack_dir.resolve() / "backfill" / f"{digest}.json"


class Pacer:
    """Holds a loop to ``rate`` items a second on average (None or 0: unlimited).

    Ours, not a library's: a backfill is one loop in one process; a schedule of "when the next
    batch may go" is all it needs, and five lines say it.
    """

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def wait(self, items: int) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + items * self.interval


@dataclass
class BackfillReport:
    checkpoint: Path
    published: int  # in total, over every run of this backfill
    published_now: int  # by this run
    total: int | None
    ids: list[str] = field(default_factory=list)  # article ids published by this run
    unkeyed: list[str] = field(default_factory=list)  # raw:<p>/<o> of those without a URL
    resumed: bool = False


def _acknowledged(cp: Checkpoint, path: Path, report: BackfillReport, sent: pub.PublishReport,
                  progress: Progress | None, stop_after: int | None) -> bool:
    """After a batch the broker acknowledged (and the caller moved ``cp``'s position past it):
    save the checkpoint, count, report progress. True when this run should stop here."""
    cp.published += sent.published
    cp.save(path)
    report.published = cp.published
    report.published_now += sent.published
    report.ids.extend(sent.ids)
    report.unkeyed.extend(sent.unkeyed)
    if progress:
        progress(cp.published, cp.total)
    return stop_after is not None and report.published_now >= stop_after


# --- archive backfill ------------------------------------------------------------------------


def _batched(items: Iterable[archives.ArchiveRecord], size: int
             ) -> Iterator[list[archives.ArchiveRecord]]:
    batch: list[archives.ArchiveRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def backfill_archives(
    settings: FlowSettings,
    paths: list[Path],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: list[str] | None = None,
    url_prefix: str = "file:///",
    rate: float | None = 200.0,
    batch_size: int = 100,
    checkpoint_file: Path | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> BackfillReport:
    """Publish the archive records matching the filters into ``news.raw``, resumably.

    ``stop_after``: stop (checkpointed) once this many records were published by this run;
    lets tests and operators do a backfill in slices.
    """
    kafka_admin.require_topic(settings, settings.topic(RAW))
    paths = [Path(p).resolve() for p in paths]
    sources = sorted(sources or [])
    key = backfill_key("archives", settings, paths=[str(p) for p in paths], since=since,
                       until=until, sources=sources, url_prefix=url_prefix)
    path = checkpoint_file or checkpoint_path(settings, key)
    if restart:
        path.unlink(missing_ok=True)
    cp = Checkpoint.load(path, key)
    report = BackfillReport(path, cp.published, 0, cp.total, resumed=cp.position > 0)
    if cp.done:
        log.info("backfill already complete", extra={"checkpoint": str(path)})
        return report

    def selected() -> Iterator[archives.ArchiveRecord]:
        for record in archives.read_archive(paths, url_prefix):
            if archives.matches(record, since, until, sources):
                yield record

    if cp.total is None:  # first run: count once, for the ETA
        cp.total = sum(1 for _ in selected())
        cp.save(path)
    report.total = cp.total
    if progress:
        progress(cp.published, cp.total)
    pacer = Pacer(rate)
    producer = make_producer(settings)
    try:
        pending = (r for r in selected() if r.position >= cp.position)
        for batch in _batched(pending, batch_size):
            pacer.wait(len(batch))
            sent = pub.publish(settings, [r.value for r in batch], producer=producer)
            # Acknowledged: only now does the checkpoint move past these records.
            cp.position = batch[-1].position + 1
            if _acknowledged(cp, path, report, sent, progress, stop_after):
                return report
        cp.done = True
        cp.save(path)
    finally:
        producer.close()
    log.info("backfill complete", extra={"published": cp.published, "checkpoint": str(path)})
    return report


# --- Kafka backfill --------------------------------------------------------------------------


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def kafka_range(consumer: KafkaConsumer, topic: str, since: datetime,
                until: datetime | None) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition, the first offset at or after ``since`` and the first at or after
    ``until`` (the end offset when none): the messages in between are the range."""
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    ends = consumer.end_offsets(tps)
    starts = consumer.offsets_for_times({tp: _ms(since) for tp in tps})
    stops = consumer.offsets_for_times({tp: _ms(until) for tp in tps}) if until else {}
    first = {tp.partition: (starts[tp].offset if starts.get(tp) else ends[tp]) for tp in tps}
    last = {tp.partition: (stops[tp].offset if stops.get(tp) else ends[tp]) for tp in tps}
    return first, last


def backfill_kafka(
    settings: FlowSettings,
    since: datetime,
    until: datetime | None = None,
    *,
    rate: float | None = 200.0,
    batch_size: int = 100,
    checkpoint_file: Path | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> BackfillReport:
    """Re-publish the ``news.raw`` messages with timestamps in ``[since, until)``, resumably."""
    topic = settings.topic(RAW)
    kafka_admin.require_topic(settings, topic)
    key = backfill_key("kafka", settings, since=since, until=until)
    path = checkpoint_file or checkpoint_path(settings, key)
    if restart:
        path.unlink(missing_ok=True)
    cp = Checkpoint.load(path, key)
    report = BackfillReport(path, cp.published, 0, cp.total, resumed=bool(cp.offsets))
    if cp.done:
        return report
    consumer = make_consumer(settings, client_id="newsflow-backfill")
    producer = make_producer(settings)
    try:
        if not cp.ends:  # first run: fix the range, so re-published messages stay outside it
            cp.offsets, cp.ends = kafka_range(consumer, topic, since, until)
            cp.total = sum(max(0, cp.ends[p] - cp.offsets[p]) for p in cp.ends)
            cp.save(path)
        report.total = cp.total
        if progress:
            progress(cp.published, cp.total)
        pacer = Pacer(rate)
        for partition in sorted(cp.ends):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            empty = 0
            while cp.offsets[partition] < cp.ends[partition]:
                consumer.seek(tp, cp.offsets[partition])
                want = min(batch_size, cp.ends[partition] - cp.offsets[partition])
                records = [r for r in consumer.poll(timeout_ms=2000, max_records=want)
                           .get(tp, []) if r.offset < cp.ends[partition]]
                if not records:
                    empty += 1
                    if empty > 15:  # ~30 s: the range is gone (retention) or Kafka is down
                        raise RuntimeError(f"no messages at {tp} offset {cp.offsets[partition]}")
                    continue
                empty = 0
                pacer.wait(len(records))
                sent = pub.publish(settings, [r.value for r in records], producer=producer)
                cp.offsets[partition] = records[-1].offset + 1
                if _acknowledged(cp, path, report, sent, progress, stop_after):
                    return report
        cp.done = True
        cp.save(path)
    finally:
        consumer.close()
        producer.close()
    log.info("backfill complete", extra={"published": cp.published, "checkpoint": str(path)})
    return report


# --- the flow --------------------------------------------------------------------------------


@flow(name="backfill")
def backfill_flow(
    paths: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: list[str] | None = None,
    kafka: bool = False,
    url_prefix: str = "file:///",
    rate: float | None = 200.0,
    batch_size: int = 100,
    checkpoint: str | None = None,
    restart: bool = False,
    stop_after: int | None = None,
    settings: FlowSettings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    logger = get_run_logger()
    # A UUID (called sync here; its type also allows a coroutine).
    artifact: Any = create_progress_artifact(progress=0.0, key="backfill-progress",
                                             description="records published / selected")
    logged = [0]

    def report_progress(done: int, total: int | None) -> None:
        if total:
            update_progress_artifact(artifact, progress=100.0 * done / total)
        if done - logged[0] >= 1000 or done == total:
            logger.info("backfill: %d of %s published", done, total)
            logged[0] = done
        if progress:
            progress(done, total)

    common: dict[str, Any] = {
        "rate": rate, "batch_size": batch_size, "restart": restart,
        "progress": report_progress, "stop_after": stop_after,
        "checkpoint_file": Path(checkpoint) if checkpoint else None}
    if kafka:
        if since is None:
            raise ValueError("a Kafka backfill needs 'since'")
        report = backfill_kafka(settings, since, until, **common)
    elif paths:
        report = backfill_archives(
            settings, [Path(p) for p in paths], since=since, until=until, sources=sources,
            url_prefix=url_prefix, **common)
    else:
        raise ValueError("give archive paths, or kafka=True with a time range")
    logger.info("backfill %s: %d published now, %d of %s in total (checkpoint %s)",
                "resumed" if report.resumed else "started", report.published_now,
                report.published, report.total, report.checkpoint)
    return {"published": report.published, "published_now": report.published_now,
            "total": report.total, "resumed": report.resumed, "ids": report.ids,
            "unkeyed": report.unkeyed,
            "checkpoint": str(report.checkpoint), "topic": settings.topic("raw")}
