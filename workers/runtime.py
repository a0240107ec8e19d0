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
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from elasticsearch import ApiError, Elasticsearch, TransportError
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError

from newsflow import elastic
from newsflow.config import Settings
from newsflow.secrets import kafka_client_options
from schemas.articles import SkipRecord
from workers.stage import Emit, Fail, Skip, Stage, StageContext, TransientError
from workers.topology import DLQ, SKIPPED, StageSpec

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "newsflow_messages", "Input messages by final outcome", ["stage", "outcome", "reason"]
)
BATCH_SECONDS = Histogram("newsflow_batch_seconds", "Time to handle one batch", ["stage"])
RETRIES = Counter("newsflow_retries", "Transient-fault retries", ["stage", "target"])
DEAD = Counter("newsflow_dead_lettered", "Messages dead-lettered", ["stage", "reason"])
SKIPPED_TOTAL = Counter("newsflow_skipped", "Messages skipped", ["stage", "reason"])
PROCESSED = Counter("newsflow_processed", "Messages emitted to the next topic or indexed",
                    ["stage"])
LAG = Gauge("newsflow_lag", "Messages behind the end of the input partition, at last commit",
            ["stage", "partition"])
COMMIT_LOST = Counter("newsflow_commits_lost", "Batches whose partitions moved to another "
                      "replica before the commit (reprocessed there)", ["stage"])

Kind = Literal["emitted", "skipped", "dead"]
_T = TypeVar("_T")

# The broker's message.max.bytes (stack/kafka/server.properties): the largest record that can
# arrive, so the largest that must be fetchable and re-publishable to the dead-letter topic.
BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
FIRST_RETRY_DELAY = 0.5  # seconds before retrying a transient fault; then doubling to 30


def _next_delay(delay: float) -> float:
    return min(delay * 2, 30.0)


@dataclass(frozen=True)
class Message:
    """One input record, wherever it came from (a Kafka topic or a JSONL line)."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    topic: str = "-"
    partition: int = -1
    offset: int = -1


@dataclass
class Result:
    message: Message
    kind: Kind
    article_id: str | None = None
    url: str | None = None
    output: BaseModel | None = None
    reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1  # runs of the stage on this article (dead letters: all of them failed)


class BatchProcessor:
    """decode → validate → process for a batch of messages; shared by the Kafka worker and
    the offline JSONL mode, so both give the same output for the same input.

    ``max_attempts``: how many runs of the stage an article gets before a failure counts as
    its own, for good (a stage error that repeats), and it is dead-lettered."""

    def __init__(self, spec: StageSpec, stage: Stage[Any], max_message_bytes: int,
                 max_attempts: int = 3) -> None:
        self.spec = spec
        self.stage = stage
        self.max_message_bytes = max_message_bytes
        self.max_attempts = max(1, max_attempts)

    def run(self, messages: Sequence[Message]) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)
        valid: list[tuple[int, BaseModel]] = []
        for i, message in enumerate(messages):
            parsed = self._validate(message)
            if isinstance(parsed, Result):
                results[i] = parsed
            else:
                valid.append((i, parsed))

        outcomes = self._process([model for _, model in valid])
        for (i, model), (outcome, attempts) in zip(valid, outcomes, strict=True):
            message = messages[i]
            aid, url = getattr(model, "id", None), getattr(model, "url", None)
            if isinstance(outcome, Emit):
                results[i] = Result(message, "emitted", getattr(outcome.article, "id", aid),
                                    url, outcome.article, attempts=attempts)
            elif isinstance(outcome, Skip):
                results[i] = Result(message, "skipped", aid, url, reason=outcome.reason,
                                    error=outcome.detail, attempts=attempts)
            else:
                results[i] = _dead(message, "stage-error", outcome.error, aid)
                results[i].attempts = attempts  # type: ignore[union-attr]
        return [r for r in results if r is not None]

    def _validate(self, message: Message) -> BaseModel | Result:
        value = message.value
        if value is None or not value.strip():
            return _dead(message, "empty-message", ValueError("message has no value"))
        if len(value) > self.max_message_bytes:
            size = f"{len(value)} bytes > limit {self.max_message_bytes}"
            return _dead(message, "too-large", ValueError(size))
        try:
            # Parse and validate in one pass (pydantic's own JSON parser): the common case.
            return self.spec.input_model.model_validate_json(value)
        except ValidationError:
            pass  # rare: redo it in two steps, whose errors tell bad JSON from a bad article
        try:
            data = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _dead(message, "not-json", exc)
        if not isinstance(data, dict):
            return _dead(message, "not-json", ValueError("message is JSON but not an object"))
        try:
            return self.spec.input_model.model_validate(data)
        except ValidationError as exc:
            return _dead(message, "invalid", exc, data.get("id"))

    def _process(self, models: list[BaseModel]) -> list[tuple[Emit[Any] | Skip | Fail, int]]:
        """One (outcome, runs) per model. A failure is retried with the article alone until
        it has had ``max_attempts`` runs: a flaky failure then passes, a real one is final."""
        if not models:
            return []
        try:
            batch_outcomes = self.stage.process(models)
        except Exception as exc:
            if is_transient(exc):
                raise  # not the articles' fault: the worker retries the batch
            # One bad article must not sink the batch: retry alone to find who fails. The
            # batch run is not counted against anyone: it cannot say whose fault it was.
            log.warning("batch failed, retrying its articles one by one",
                        extra={"stage": self.spec.name, "size": len(models)}, exc_info=True)
            return [self._retry_alone(model, 0, None) for model in models]
        if len(batch_outcomes) != len(models):
            raise RuntimeError(f"stage {self.spec.name} returned {len(batch_outcomes)} "
                               f"outcomes for {len(models)} inputs")
        return [self._retry_alone(model, 1, outcome) if isinstance(outcome, Fail)
                else (outcome, 1) for model, outcome in zip(models, batch_outcomes, strict=True)]

    def _retry_alone(self, model: BaseModel, runs: int, last: Fail | None
                     ) -> tuple[Emit[Any] | Skip | Fail, int]:
        while runs < self.max_attempts:
            runs += 1
            try:
                [outcome] = self.stage.process([model])
            except Exception as exc:
                if is_transient(exc):
                    raise
                outcome = Fail(exc)
            if not isinstance(outcome, Fail):
                return outcome, runs
            last = outcome
        assert last is not None
        return last, runs  # failed every run: the article's own fault, dead-letter it


def is_transient(exc: BaseException) -> bool:
    """Faults of the infrastructure, worth waiting out: never a reason to dead-letter."""
    if isinstance(exc, TransientError | TransportError):  # TransportError: connection, timeout
        return True
    if isinstance(exc, KafkaError):  # broker down, leader moved, request timed out
        return bool(exc.retriable)
    return isinstance(exc, ApiError) and (exc.status_code == 429 or exc.status_code >= 500)


def _dead(message: Message, reason: str, exc: BaseException, aid: str | None = None) -> Result:
    text = str(exc)
    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
    return Result(message, "dead", aid, reason=reason, error=text[:2000],
                  error_type=type(exc).__name__)


def record_outcome(stage: str, topic: str, r: Result, counts: dict[str, int]) -> None:
    """The one log line and the counters of a message's outcome (tallied in ``counts`` too)."""
    counts[r.kind] = counts.get(r.kind, 0) + 1
    MESSAGES.labels(stage, r.kind, r.reason or "").inc()
    if r.kind == "emitted":
        PROCESSED.labels(stage).inc()
    elif r.kind == "skipped":
        SKIPPED_TOTAL.labels(stage, r.reason or "").inc()
    else:
        DEAD.labels(stage, r.reason or "").inc()
    extra = {"stage": stage, "topic": topic, "partition": r.message.partition,
             "offset": r.message.offset, "article_id": r.article_id, "outcome": r.kind}
    if r.kind == "emitted":
        log.info("emitted", extra=extra)
    else:
        log.warning(r.kind, extra={**extra, "reason": r.reason, "error": r.error,
                                   "attempts": r.attempts})


# --- sinks: where emitted articles go ------------------------------------------------------


class Sink(Protocol):
    def write(self, results: list[Result]) -> None:
        """Write emitted results; mark the ones rejected for good as ``dead``. Returns once
        every write is acknowledged, or raises (then nothing of the batch is committed)."""
        ...


class KafkaSink:
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def write(self, results: list[Result]) -> None:
        futures = [
            self.producer.send(
                self.topic,
                key=(r.article_id or "").encode() or None,
                value=_to_bytes(r.output),
            )
            for r in results
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=0)  # raises the send error, if any: batch not committed


class ElasticsearchSink:
    """Bulk-indexes documents through the alias; retries what is the node's fault."""

    def __init__(self, es: Elasticsearch, settings: Settings, stage: str,
                 stop: threading.Event) -> None:
        self.es = es
        self.alias = settings.es_alias
        self.stage = stage
        self.stop = stop
        # How to wait between retries; the worker swaps in its paused wait (backpressure).
        self.wait: Callable[[float], object] = stop.wait

    def write(self, results: list[Result]) -> None:
        pending = list(results)
        delay = FIRST_RETRY_DELAY
        while pending:
            docs = [(r.article_id or "", _to_bytes(r.output)) for r in pending]
            try:
                failures = elastic.bulk_index(self.es, self.alias, docs)
            except (TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and 400 <= exc.status_code < 500 \
                        and exc.status_code != 429:
                    raise  # a request we built wrong: a bug, not a fault to wait out
                failures = [elastic.BulkFailure(i, 503, str(exc)) for i in range(len(pending))]
            retry = []
            for failure in failures:
                result = pending[failure.position]
                if failure.transient:
                    retry.append(result)
                else:
                    result.kind, result.reason = "dead", "index-rejected"
                    result.error, result.error_type = failure.error, f"http-{failure.status}"
            if retry:
                if self.stop.is_set():
                    # Transient: the worker hands the batch back uncommitted and exits.
                    raise TransientError("stopping while Elasticsearch is unavailable")
                RETRIES.labels(self.stage, "elasticsearch").inc(len(retry))
                log.warning("elasticsearch unavailable, retrying",
                            extra={"stage": self.stage, "items": len(retry), "delay": delay})
                self.wait(delay)
                delay = _next_delay(delay)
            pending = retry


def _to_bytes(model: BaseModel | None) -> bytes:
    assert model is not None
    return model.model_dump_json(exclude_none=True).encode("utf-8")


# --- the Kafka worker ----------------------------------------------------------------------


class HandBack(Exception):
    """Stop requested while a batch waits out a fault: leave it uncommitted for the next run."""


@dataclass
class Worker:
    spec: StageSpec
    settings: Settings
    processor: BatchProcessor
    sink: Sink
    consumer: KafkaConsumer
    producer: KafkaProducer
    stop: threading.Event = field(default_factory=threading.Event)
    counts: dict[str, int] = field(default_factory=dict)
    in_batch: bool = False  # a polled batch is being handled (and polls now only keep us alive)
    poll_delay: float = FIRST_RETRY_DELAY  # after a failed poll; doubles while polls fail

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
            if not is_transient(exc):
                raise
            self._poll_failed(exc)
            return None
        self.poll_delay = FIRST_RETRY_DELAY
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
        delay = FIRST_RETRY_DELAY
        while True:
            try:
                return attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise  # uncommitted: the batch is processed again after a restart
                if self.stop.is_set():
                    raise HandBack from exc
                self._record_retry(what, exc, delay)
                self._wait_paused(delay)
                delay = _next_delay(delay)

    def _poll_failed(self, exc: Exception) -> None:
        self._record_retry("poll", exc, self.poll_delay)
        self.stop.wait(self.poll_delay)
        self.poll_delay = _next_delay(self.poll_delay)

    def _record_retry(self, what: str, exc: Exception, delay: float) -> None:
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


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        # Idempotent producer: the broker drops the duplicates its own retries would make, and
        # (with at most 5 requests in flight) keeps each partition's order across retries.
        # Retries are bounded by time, not count: a broker restart is waited out for 2 min.
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        delivery_timeout_ms=120_000,
        linger_ms=20,
        # Per partition: kafka-python's 16 KiB default holds three or four articles, so every
        # few sends started a batch, woke the sender thread and made a request of its own.
        # A worker's whole output batch fits in 1 MiB per partition (benchmarks, alternating
        # runs with entities off: end to end 608-621 -> 811-830/s, Kafka CPU halved or more).
        batch_size=1 << 20,
        # Room for any message the broker accepts: oversized input is dead-lettered whole.
        max_request_size=BROKER_MAX_MESSAGE_BYTES,
        client_id="newsflow",
        **kafka_client_options(settings),
    )


KAFKA_DEFAULT_MAX_POLL_INTERVAL_MS = 300_000


def max_poll_interval_ms(spec: StageSpec, settings: Settings) -> int:
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


def make_worker(spec: StageSpec, settings: Settings, *, install_signals: bool = True) -> Worker:
    """Wire a stage to Kafka (and Elasticsearch) as configured. Entry points call this."""
    stop = threading.Event()
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    stage = spec.build(settings, StageContext(offline=False, es=es))
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.group(spec.name),
        client_id=f"newsflow-{spec.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_size,  # bounded in-flight batch
        max_poll_interval_ms=max_poll_interval_ms(spec, settings),
        # Fuller fetches: a stage that keeps up would otherwise fetch a few messages at a
        # time, and every fetch, batch, bulk request and commit has its fixed cost.
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        fetch_max_bytes=max(52428800, BROKER_MAX_MESSAGE_BYTES),
        max_partition_fetch_bytes=BROKER_MAX_MESSAGE_BYTES,
        **kafka_client_options(settings),
    )
    producer = make_producer(settings)
    output = spec.output_topic(settings)
    sink: Sink = KafkaSink(producer, output) if output else ElasticsearchSink(
        es, settings, spec.name, stop)
    processor = BatchProcessor(spec, stage, settings.max_message_bytes,
                               settings.stage_attempts)
    worker = Worker(spec, settings, processor, sink, consumer, producer, stop)
    if isinstance(sink, ElasticsearchSink):
        sink.wait = worker._wait_paused
    consumer.subscribe([spec.input_topic(settings)], listener=_Rebalance(worker))
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    # What start-up built (models, gazetteers, rule tables, clients) lives as long as the
    # worker: out of the cyclic collector's reach, it is not rescanned on every full
    # collection (benchmarks: clean 4-16% and dedup 14-20% less CPU, 747 -> 850/s end to end).
    gc.collect()  # the start-up's own garbage is freed, not frozen
    gc.freeze()
    return worker


# --- offline: the same processing over JSON Lines files -----------------------------------


def run_offline(spec: StageSpec, settings: Settings, lines: Iterable[bytes]) -> list[Result]:
    """Run a stage over JSONL records without Kafka: dedup keeps its state in memory, and
    ``index`` returns the documents it would write. Batches as the worker does."""
    stage = spec.build(settings, StageContext(offline=True))
    processor = BatchProcessor(spec, stage, settings.max_message_bytes, settings.stage_attempts)
    results: list[Result] = []
    batch: list[Message] = []
    try:
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            batch.append(Message(line.rstrip(b"\n"), topic="<file>", offset=n))
            if len(batch) >= settings.batch_size:
                results += processor.run(batch)
                batch = []
        results += processor.run(batch)
    finally:
        stage.close()
    return results
