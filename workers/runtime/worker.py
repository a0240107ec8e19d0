"""The one loop every stage runs in: consume batch → validate → process → produce → commit.

Dead-letter routing, skip records, logging and metrics live here and only here, so every stage
behaves the same way and a stage module holds nothing but its own logic.

Delivery: input offsets are committed only after every output of the batch is acknowledged
(Kafka produce with ``acks=all`` flushed, or every Elasticsearch bulk item checked). A crash
before the commit means the batch is processed again; outputs are keyed by article id and
Elasticsearch ``_id`` is the article id, so the visible effect is still once.

Faults: an infrastructure fault (Kafka unavailable or changing leader, Elasticsearch down,
429 or 5xx, a stage's :class:`~workers.stage.TransientError`) retries the whole batch with
backoff and never dead-letters anything. An article that makes the stage fail is run again on
its own, up to ``settings.stage_attempts`` runs in all, and only then dead-lettered (header
``newsflow.attempts``). While a batch waits out a fault the worker pauses its partitions and
keeps polling (backpressure: no new input is fetched, but it stays in its consumer group).

Rebalances (a replica joins or leaves): offsets are committed per batch, for the partitions
this worker still owns. A partition taken away while its batch was in flight is not committed
here; its new owner processes that batch again, which the idempotent outputs make harmless.
On SIGTERM the worker finishes its batch and commits (or, when a fault is being waited out,
hands the batch back uncommitted), leaves the group and exits.

Every input message ends as exactly one of:
- ``emitted``  - written to the stage's output topic (or indexed, for ``index``);
- ``skipped``  - a :class:`~schemas.articles.SkipRecord` on ``news.skipped`` with the reason;
- ``dead``     - its original bytes and headers on ``news.dlq``, with headers naming the
                 stage, the reason, the error type and message.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from schemas.articles import SkipRecord
from workers.io import elastic
from workers.io.kafka_clients import BROKER_MAX_MESSAGE_BYTES, make_consumer, make_producer
from workers.runtime.backoff import Backoff, HandBack, retrying, transient
from workers.runtime.batch import BatchProcessor, Message, Result
from workers.runtime.metrics import BATCH_SECONDS, COMMIT_LOST, LAG, RETRIES, record_outcome
from workers.runtime.sinks import ElasticsearchSink, KafkaSink, Sink
from workers.settings import WorkerSettings
from workers.stage import StageContext
from workers.topology import DLQ, SKIPPED, StageSpec

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class Worker:
    spec: StageSpec
    settings: WorkerSettings
    processor: BatchProcessor
    sink: Sink
    consumer: KafkaConsumer
    producer: KafkaProducer
    stop: threading.Event = field(default_factory=threading.Event)
    counts: dict[str, int] = field(default_factory=dict)
    in_batch: bool = False  # a polled batch is being handled (and polls now only keep us alive)
    poll_backoff: Backoff = field(default_factory=Backoff)  # while polls fail

    def run(self, max_idle_seconds: float | None = None) -> None:
        """Poll and handle batches until stopped (SIGTERM/SIGINT, or ``stop`` set).

        ``max_idle_seconds``: also stop after that long without input (tests, backfills).
        A failed poll (the broker away) is not idle time: there may be input it cannot give
        yet. A poll that only comes back empty while the broker is away still counts as idle.
        """
        log.info("worker started", extra=self._where())
        idle_since = time.monotonic()
        try:
            while not self.stop.is_set():
                handled = self.step()
                if handled is None or handled:
                    idle_since = time.monotonic()
                elif max_idle_seconds is not None and \
                        time.monotonic() - idle_since > max_idle_seconds:
                    break
        except HandBack:
            log.warning("stopping mid-fault: the batch is left uncommitted for the next run",
                        extra=self._where())
        finally:
            self.close()

    def step(self) -> int | None:
        """Poll once and handle what came: the number of messages, or None if the poll failed."""
        try:
            polled = self.consumer.poll(
                timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_size
            )
        except Exception as exc:
            # The client can raise from a poll while the broker is down (kafka-python 3.0
            # finding the group coordinator). Between batches nothing is in flight: wait it out.
            if not transient(exc):
                raise
            delay = self.poll_backoff.next()
            self._record_retry("poll", exc, delay)
            self.stop.wait(delay)
            return None
        self.poll_backoff.reset()
        messages = [
            Message(r.value, r.key, tuple(r.headers or ()), r.topic, r.partition, r.offset)
            for records in polled.values()
            for r in records
        ]
        if messages:
            self.handle(messages)
        return len(messages)

    def handle(self, messages: list[Message]) -> None:
        """Process, write every output, then commit; transient faults are retried."""
        started = time.perf_counter()
        self.in_batch = True
        try:
            results = self._retrying("batch", lambda: self._process_and_write(messages))
            self._retrying("commit", lambda: self._commit(messages))
        finally:
            self.in_batch = False
            if self.consumer.paused():
                self.consumer.resume(*self.consumer.paused())
        BATCH_SECONDS.labels(self.spec.name).observe(time.perf_counter() - started)
        for result in results:
            self._record(result)

    def _process_and_write(self, messages: list[Message]) -> list[Result]:
        # Re-run whole on a retry: every stage is idempotent per article id, and a partial
        # write of the previous try is overwritten, not doubled.
        results = self.processor.run(messages)
        self.sink.write([r for r in results if r.kind == "emitted"])
        side = [self._side_record(r) for r in results if r.kind != "emitted"]
        futures = [self.producer.send(topic, key=key, value=value, headers=headers)
                   for topic, key, value, headers in side]
        self.producer.flush()
        for future in futures:
            future.get(timeout=0)
        return results

    def _retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        return retrying(attempt, wait=self._wait_paused, stopping=self.stop.is_set,
                        on_retry=lambda exc, delay: self._record_retry(what, exc, delay))

    def _record_retry(self, what: str, exc: BaseException, delay: float) -> None:
        """The one log line and counter of a transient fault about to be waited out."""
        RETRIES.labels(self.spec.name, what).inc()
        log.warning("transient fault, retrying", extra={
            **self._where(), "retrying": what, "error": repr(exc)[:500], "delay": delay})

    def _wait_paused(self, seconds: float) -> None:
        """Backpressure: wait with every partition paused, polling so the group keeps us.

        A poll here may rebalance; partitions newly assigned are paused too (see
        :class:`_Rebalance`), and anything fetched anyway is handed back by seeking to it."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                self.consumer.pause(*self.consumer.assignment())
                polled = self.consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            except KafkaError as exc:  # the broker is down: just wait
                log.debug("poll while paused failed: %r", exc)
                self.stop.wait(min(left, 1.0))
                continue
            for tp, records in polled.items():
                if records:
                    self.consumer.seek(tp, records[0].offset)

    def _commit(self, messages: list[Message]) -> None:
        """Commit past the batch, only for the partitions this worker still owns."""
        ends: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            ends[tp] = max(ends.get(tp, 0), m.offset + 1)
        owned = self.consumer.assignment()
        lost = [tp for tp in ends if tp not in owned]
        offsets = {tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()
                   if tp in owned}
        if lost:
            COMMIT_LOST.labels(self.spec.name).inc()
            log.warning("partitions moved to another replica mid-batch: not committed here, "
                        "their new owner processes them again",
                        extra={**self._where(), "partitions": str(sorted(p for _, p in lost))})
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced under us: the partitions belong to someone else now, who
            # starts from the last commit. Outputs are idempotent, so that repeat is harmless.
            COMMIT_LOST.labels(self.spec.name).inc()
            log.warning("commit refused after a rebalance: the new owner reprocesses the batch",
                        extra=self._where())
            return
        for tp, offset in offsets.items():
            # A rebalance mid-batch that gave a partition back to us reset its position to the
            # old commit: skip what we just did instead of doing it twice.
            if tp in self.consumer.assignment() and self.consumer.position(tp) < offset.offset:
                self.consumer.seek(tp, offset.offset)
            high = self.consumer.highwater(tp)
            if high is not None:
                LAG.labels(self.spec.name, str(tp.partition)).set(max(0, high - offset.offset))

    def _side_record(self, r: Result) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]:
        """The dead-letter or skip record for a result that was not emitted."""
        m = r.message
        source = ("newsflow.source", f"{m.topic}/{m.partition}/{m.offset}".encode())
        if r.kind == "skipped":
            record = SkipRecord(id=r.article_id, url=r.url,
                                stage=self.spec.name, reason=r.reason or "unknown",
                                detail=r.error, at=datetime.now(UTC))
            return (self.settings.topic(SKIPPED), (r.article_id or "").encode() or None,
                    record.to_bytes(), [("newsflow.stage", self.spec.name.encode()), source])
        headers = [
            *(h for h in m.headers if not h[0].startswith("newsflow.")),
            ("newsflow.stage", self.spec.name.encode()),
            ("newsflow.reason", (r.reason or "").encode()),
            ("newsflow.error_type", (r.error_type or "").encode()),
            ("newsflow.error", (r.error or "").encode()[:4000]),
            source,
            ("newsflow.attempts", str(r.attempts).encode()),
        ]
        if r.article_id:
            headers.append(("newsflow.id", r.article_id.encode()))
        return self.settings.topic(DLQ), m.key, m.value or b"", headers

    def _record(self, r: Result) -> None:
        record_outcome(self.spec.name, self.spec.input_topic(self.settings), r, self.counts)

    def _where(self) -> dict[str, Any]:
        return {"stage": self.spec.name, "topic": self.spec.input_topic(self.settings)}

    def close(self) -> None:
        self.consumer.close()  # leaves the group at once, so a replica takes over promptly
        self.producer.flush()
        self.producer.close()
        self.processor.stage.close()
        log.info("worker stopped", extra={**self._where(), **self.counts})


class _Rebalance(ConsumerRebalanceListener):
    """Called inside ``poll()`` when replicas join or leave.

    Between batches everything handled is already committed, so a revoke needs nothing. A
    revoke can also come while a batch waits out a fault (``_wait_paused`` polls): that batch
    is then committed only for the partitions still ours (``Worker._commit``)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", extra={
            **self.worker._where(), "partitions": str(sorted(tp.partition for tp in revoked)),
            "in_batch": self.worker.in_batch})

    def on_partitions_assigned(self, assigned: Any) -> None:
        if self.worker.in_batch and assigned:
            self.worker.consumer.pause(*assigned)  # still waiting out a fault: fetch nothing
        log.info("partitions assigned", extra={
            **self.worker._where(), "partitions": str(sorted(tp.partition for tp in assigned))})


KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS = 300_000


def max_poll_interval_ms(spec: StageSpec, settings: WorkerSettings) -> int:
    """How long the consumer may go between polls before the group evicts it as stuck.

    A batch is polled, then handled, then the next poll comes. Worst case, the batch run
    fails and every message is then run alone ``stage_attempts`` times (BatchProcessor), each
    taking the stage's slowest time; plus a minute for the writes and the commit. Never below
    Kafka's 5 min default. Only a worker that is alive but stuck waits this long to be evicted;
    a dead one is noticed by the heartbeat's session timeout.
    """
    runs = 1 + settings.stage_attempts
    worst = runs * settings.batch_size * spec.seconds_per_message * 1000 + 60_000
    return max(KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS, int(worst))


def make_worker(spec: StageSpec, settings: WorkerSettings, *,
                install_signals: bool = True) -> Worker:
    """Wire a stage to Kafka (and Elasticsearch) as configured. Entry points call this."""
    stop = threading.Event()
    # No retries in the client: a fault is waited out by the worker's one policy (backoff).
    es = elastic.client(settings, retries=0)
    elastic.ensure_index(es, settings)
    stage = spec.build(settings, StageContext(offline=False, es=es))
    consumer = make_consumer(
        settings,
        client_id=f"newsflow-{spec.name}",
        group_id=settings.group(spec.name),
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_size,  # bounded in-flight batch
        max_poll_interval_ms=max_poll_interval_ms(spec, settings),
        # Fuller fetches: a stage that keeps up would otherwise fetch a few messages at a
        # time, and every fetch, batch, bulk request and commit has its fixed cost.
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        fetch_max_bytes=max(52428800, BROKER_MAX_MESSAGE_BYTES),
        max_partition_fetch_bytes=BROKER_MAX_MESSAGE_BYTES,
    )
    producer = make_producer(settings)
    output = spec.output_topic(settings)
    sink: Sink = KafkaSink(producer, output) if output else ElasticsearchSink(
        es, settings.es_alias)
    processor = BatchProcessor(spec, stage, settings.max_message_bytes,
                               settings.stage_attempts)
    worker = Worker(spec, settings, processor, sink, consumer, producer, stop)
    consumer.subscribe([spec.input_topic(settings)], listener=_Rebalance(worker))
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    # What start-up built (models, gazetteers, rule tables, clients) lives as long as the
    # worker: out of the cyclic collector's reach, it is not rescanned on every full
    # collection (the gain is measured in docs/performance.md).
    gc.collect()  # the start-up's own garbage is freed, not frozen
    gc.freeze()
    return worker


