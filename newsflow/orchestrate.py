"""The work behind the operator flows (``flows/``): backfills and index versions.

Backfill: archive records (``newsflow.archives``) or a time range of ``news.raw`` are
published into ``news.raw`` again, keyed by article id, at a bounded rate, so the running
stage workers re-process them alongside live traffic; a backfill adds at most ``rate``
messages a second to the stages' input, so live articles wait behind at most that much.
Progress is a checkpoint file, written atomically after every acknowledged batch:
- archives: the position of the next record to read;
- Kafka: the next offset of each partition, and the end offsets fixed at the first run (so the
  re-published messages, which land on the same topic, are never read again).
Run again after an interruption, a backfill continues from its checkpoint. At most the batch in
flight when it was killed is sent twice, and that changes nothing: it has the same key and the
same Elasticsearch ``_id``, and dedup decides the same way for the same article.

Reindex: create ``<alias>-v<N>`` from the newest mapping file, copy every document into it
(scan + bulk: this Elasticsearch has no ``_reindex``), copy again what live writes changed
meanwhile, compare counts, then move the alias in one atomic ``_aliases`` request. The old
index stays until :func:`drop_old_indices`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers
from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from pydantic import BaseModel, Field

from newsflow import archives, elastic, kafka_admin
from newsflow import publish as pub
from newsflow.config import Settings
from newsflow.secrets import kafka_client_options
from workers.runtime import make_producer
from workers.topology import RAW

log = logging.getLogger(__name__)

# (done so far, total or None): called after every acknowledged batch.
ProgressFn = Callable[[int, int | None], None]


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


def backfill_key(kind: str, settings: Settings, **spec: Any) -> str:
    """A stable description of a backfill: source, filters and target topic."""
    return json.dumps({"kind": kind, "topic": settings.topic(RAW), **spec}, sort_keys=True,
                      default=str)


def checkpoint_path(settings: Settings, key: str) -> Path:
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
                  progress: ProgressFn | None, stop_after: int | None) -> bool:
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
    settings: Settings,
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
    progress: ProgressFn | None = None,
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
    settings: Settings,
    since: datetime,
    until: datetime | None = None,
    *,
    rate: float | None = 200.0,
    batch_size: int = 100,
    checkpoint_file: Path | None = None,
    restart: bool = False,
    progress: ProgressFn | None = None,
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
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                             enable_auto_commit=False, client_id="newsflow-backfill",
                             **kafka_client_options(settings))
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


# --- reindex ---------------------------------------------------------------------------------



CATCH_UP_MARGIN = timedelta(seconds=60)


@dataclass
class ReindexReport:
    old: list[str]
    new: str
    copied: int
    caught_up: int
    old_count: int  # documents older than the catch-up window, in the old indices
    new_count: int  # ... and in the new one (equal, or the alias is not moved)
    swapped: bool


def indices_behind_alias(es: Elasticsearch, settings: Settings) -> list[str]:
    if not es.indices.exists_alias(name=settings.es_alias):
        return []
    return sorted(es.indices.get_alias(name=settings.es_alias))


def _copy(es: Elasticsearch, source: str, target: str, query: dict[str, Any] | None,
          op_type: str = "index") -> int:
    """Copy documents (same ``_id``) with scan + bulk; returns how many were written.

    ``op_type="create"`` writes only documents the target lacks (a conflict means the target
    already has a newer copy from a live writer).
    """
    actions = (
        {"_op_type": op_type, "_index": target, "_id": hit["_id"], "_source": hit["_source"]}
        for hit in helpers.scan(es, index=source, query={"query": query or {"match_all": {}}},
                                size=500, preserve_order=False)
    )
    ok = 0
    for success, item in helpers.streaming_bulk(es, actions, chunk_size=500,
                                                raise_on_error=False):
        status = next(iter(item.values())).get("status", 0)
        if success:
            ok += 1
        elif status != 409:  # 409 on create: already there, newer
            raise RuntimeError(f"copying into {target} failed: {item}")
    return ok


def reindex(es: Elasticsearch, settings: Settings, version: int | None = None,
            progress: ProgressFn | None = None) -> ReindexReport:
    """Fill the index of mapping ``version`` (default: the newest) and swap the alias to it."""
    alias = settings.es_alias
    old = indices_behind_alias(es, settings)
    version, body = elastic.index_definition(version)
    new = elastic.index_name(settings, version)
    if new in old:
        raise ValueError(f"'{alias}' already points at {new}: no newer mapping to move to")
    if version >= 2:  # later generations of the new version (rollover) take its template
        elastic.ensure_template(es, settings, version)
    if not es.indices.exists(index=new):
        es.indices.create(index=new, settings=body["settings"], mappings=body["mappings"])
    # Live writers keep writing to the old index while it is copied. Whatever they wrote since
    # ``since`` is copied again before and after the swap. The margin covers documents stamped
    # (indexed_at) a little before they reached the index.
    es.indices.refresh(index=old)
    since = {"range": {"indexed_at": {"gte": (datetime.now(UTC) - CATCH_UP_MARGIN).isoformat()}}}
    stable = {"range": {"indexed_at": {"lt": since["range"]["indexed_at"]["gte"]}}}
    total = elastic.count(es, settings)
    if progress:
        progress(0, total)
    copied = _copy(es, alias, new, None)
    if progress:
        progress(copied, total)
    es.indices.refresh(index=old)
    caught_up = _copy(es, alias, new, since)
    es.indices.refresh(index=[*old, new])
    # The check: every document older than the catch-up window is in the new index.
    old_count = int(es.count(index=",".join(old), query=stable)["count"])
    new_count = int(es.count(index=new, query=stable)["count"])
    if new_count != old_count:
        log.error("reindex count check failed; alias not moved",
                  extra={"old": old, "new": new, "old_count": old_count, "new_count": new_count})
        return ReindexReport(old, new, copied, caught_up, old_count, new_count, swapped=False)
    # One request, applied atomically: searches see the old index or the new one, never none.
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": alias,
                                              "is_write_index": True}}]
    actions += [{"remove": {"index": name, "alias": alias}} for name in old]
    es.indices.update_aliases(actions=actions)
    # Writes that reached the old index until the swap; "create", so a newer copy written
    # through the alias since the swap is never overwritten by an older one.
    es.indices.refresh(index=old)
    for name in old:
        caught_up += _copy(es, name, new, since, op_type="create")
    log.info("alias swapped", extra={"alias": alias, "old": old, "new": new,
                                     "documents": new_count})
    return ReindexReport(old, new, copied, caught_up, old_count, new_count, swapped=True)


def drop_old_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    """Delete ``<alias>-v<N>`` indices the alias no longer points at; returns their names."""
    current = set(indices_behind_alias(es, settings))
    if not current:
        raise ValueError(f"alias '{settings.es_alias}' does not exist: refusing to drop")
    # Ours only: <alias>-v<N> or a generation <alias>-v<N>-<G>, never e.g. <alias>-dedup-state.
    ours = re.compile(rf"^{re.escape(settings.es_alias)}-v\d+(-\d+)?$")
    names = es.indices.get(index=f"{settings.es_alias}-v*", expand_wildcards="open,closed")
    dropped = sorted(n for n in names if n not in current and ours.match(n))
    for name in dropped:
        es.indices.delete(index=name)
    return dropped
