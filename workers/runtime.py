"""The one loop every stage runs in: consume batch → validate → process → produce → commit.

Dead-letter routing, skip records, logging and metrics live here and only here, so every stage
behaves the same way and a stage module holds nothing but its own logic.

Delivery: input offsets are committed only after every output of the batch is acknowledged
(Kafka produce with ``acks=all`` flushed, or every Elasticsearch bulk item checked). A crash
before the commit means the batch is processed again; outputs are keyed by article id and
Elasticsearch ``_id`` is the article id, so the visible effect is still once.

Every input message ends as exactly one of:
- ``emitted``  - written to the stage's output topic (or indexed, for ``index``);
- ``skipped``  - a :class:`~schemas.articles.SkipRecord` on ``news.skipped`` with the reason;
- ``dead``     - its original bytes and headers on ``news.dlq``, with headers naming the
                 stage, the reason, the error type and message.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from elasticsearch import ApiError, Elasticsearch, TransportError
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError

from newsflow import elastic
from newsflow.config import Settings
from schemas.articles import SkipRecord
from workers.stage import Emit, Fail, Skip, Stage, StageContext, TransientError
from workers.topology import DLQ, SKIPPED, StageSpec

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "newsflow_messages", "Input messages by final outcome", ["stage", "outcome", "reason"]
)
BATCH_SECONDS = Histogram("newsflow_batch_seconds", "Time to handle one batch", ["stage"])
RETRIES = Counter("newsflow_retries", "Transient-fault retries", ["stage", "target"])

Kind = Literal["emitted", "skipped", "dead"]

# The broker's message.max.bytes (stack/kafka/server.properties): the largest record that can
# arrive, so the largest that must be fetchable and re-publishable to the dead-letter topic.
BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


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


class BatchProcessor:
    """decode → validate → process for a batch of messages; shared by the Kafka worker and
    the offline JSONL mode, so both give the same output for the same input."""

    def __init__(self, spec: StageSpec, stage: Stage[Any], max_message_bytes: int) -> None:
        self.spec = spec
        self.stage = stage
        self.max_message_bytes = max_message_bytes

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
        for (i, model), outcome in zip(valid, outcomes, strict=True):
            message = messages[i]
            aid, url = getattr(model, "id", None), getattr(model, "url", None)
            if isinstance(outcome, Emit):
                results[i] = Result(message, "emitted", getattr(outcome.article, "id", aid),
                                    url, outcome.article)
            elif isinstance(outcome, Skip):
                results[i] = Result(message, "skipped", aid, url, reason=outcome.reason,
                                    error=outcome.detail)
            else:
                results[i] = _dead(message, "stage-error", outcome.error, aid)
        return [r for r in results if r is not None]

    def _validate(self, message: Message) -> BaseModel | Result:
        value = message.value
        if value is None or not value.strip():
            return _dead(message, "empty-message", ValueError("message has no value"))
        if len(value) > self.max_message_bytes:
            size = f"{len(value)} bytes > limit {self.max_message_bytes}"
            return _dead(message, "too-large", ValueError(size))
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

    def _process(self, models: list[BaseModel]) -> list[Emit[Any] | Skip | Fail]:
        if not models:
            return []
        try:
            outcomes = self.stage.process(models)
        except Exception as exc:
            if is_transient(exc):
                raise  # not the articles' fault: the worker retries the batch
            # One bad article must not sink the batch: retry alone to find who fails.
            log.warning("batch failed, retrying its articles one by one",
                        extra={"stage": self.spec.name, "size": len(models)}, exc_info=True)
            outcomes = [self._process_one(model) for model in models]
        if len(outcomes) != len(models):
            raise RuntimeError(f"stage {self.spec.name} returned {len(outcomes)} outcomes "
                               f"for {len(models)} inputs")
        return outcomes

    def _process_one(self, model: BaseModel) -> Emit[Any] | Skip | Fail:
        try:
            [outcome] = self.stage.process([model])
            return outcome
        except Exception as exc:
            if is_transient(exc):
                raise
            return Fail(exc)  # the article's own fault: dead-letter it, keep going


def is_transient(exc: BaseException) -> bool:
    """Faults of the infrastructure, worth waiting out: never a reason to dead-letter."""
    if isinstance(exc, TransientError | TransportError):  # TransportError: connection, timeout
        return True
    return isinstance(exc, ApiError) and (exc.status_code == 429 or exc.status_code >= 500)


def _dead(message: Message, reason: str, exc: BaseException, aid: str | None = None) -> Result:
    text = str(exc)
    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
    return Result(message, "dead", aid, reason=reason, error=text[:2000],
                  error_type=type(exc).__name__)


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

    def write(self, results: list[Result]) -> None:
        pending = list(results)
        delay = 0.5
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
                    raise RuntimeError("stopping while Elasticsearch is unavailable")
                RETRIES.labels(self.stage, "elasticsearch").inc(len(retry))
                log.warning("elasticsearch unavailable, retrying",
                            extra={"stage": self.stage, "items": len(retry), "delay": delay})
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            pending = retry


def _to_bytes(model: BaseModel | None) -> bytes:
    assert model is not None
    return model.model_dump_json(exclude_none=True).encode("utf-8")


# --- the Kafka worker ----------------------------------------------------------------------


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

    def run(self, max_idle_seconds: float | None = None) -> None:
        """Poll and handle batches until stopped (SIGTERM/SIGINT, or ``stop`` set).

        ``max_idle_seconds``: also stop after that long without input (tests, backfills).
        """
        log.info("worker started", extra=self._where())
        idle_since = time.monotonic()
        try:
            while not self.stop.is_set():
                handled = self.step()
                if handled:
                    idle_since = time.monotonic()
                elif max_idle_seconds is not None and \
                        time.monotonic() - idle_since > max_idle_seconds:
                    break
        finally:
            self.close()

    def step(self) -> int:
        polled = self.consumer.poll(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_size
        )
        messages = [
            Message(r.value, r.key, tuple(r.headers or ()), r.topic, r.partition, r.offset)
            for records in polled.values()
            for r in records
        ]
        if messages:
            self.handle(messages)
        return len(messages)

    def handle(self, messages: list[Message]) -> None:
        started = time.perf_counter()
        delay = 0.5
        while True:
            try:
                results = self.processor.run(messages)
                self.sink.write([r for r in results if r.kind == "emitted"])
                break
            except Exception as exc:
                if not is_transient(exc) or self.stop.is_set():
                    raise  # uncommitted: the batch is processed again after a restart
                RETRIES.labels(self.spec.name, "stage").inc()
                log.warning("transient fault, retrying the batch",
                            extra={**self._where(), "error": repr(exc), "delay": delay})
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
        side = [self._side_record(r) for r in results if r.kind != "emitted"]
        futures = [self.producer.send(topic, key=key, value=value, headers=headers)
                   for topic, key, value, headers in side]
        self.producer.flush()
        for future in futures:
            future.get(timeout=0)
        self.consumer.commit()  # only now: everything above is acknowledged
        BATCH_SECONDS.labels(self.spec.name).observe(time.perf_counter() - started)
        for result in results:
            self._record(result)

    def _side_record(self, r: Result) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]:
        """The dead-letter or skip record for a result that was not emitted."""
        if r.kind == "skipped":
            record = SkipRecord(id=r.article_id, url=r.url,
                                stage=self.spec.name, reason=r.reason or "unknown",
                                detail=r.error, at=datetime.now(UTC))
            return (self.settings.topic(SKIPPED), (r.article_id or "").encode() or None,
                    record.to_bytes(), [("newsflow.stage", self.spec.name.encode())])
        m = r.message
        headers = [
            *m.headers,
            ("newsflow.stage", self.spec.name.encode()),
            ("newsflow.reason", (r.reason or "").encode()),
            ("newsflow.error_type", (r.error_type or "").encode()),
            ("newsflow.error", (r.error or "").encode()[:4000]),
            ("newsflow.source", f"{m.topic}/{m.partition}/{m.offset}".encode()),
            ("newsflow.attempts", b"1"),
        ]
        return self.settings.topic(DLQ), m.key, m.value or b"", headers

    def _record(self, r: Result) -> None:
        self.counts[r.kind] = self.counts.get(r.kind, 0) + 1
        MESSAGES.labels(self.spec.name, r.kind, r.reason or "").inc()
        extra = {**self._where(), "partition": r.message.partition, "offset": r.message.offset,
                 "article_id": r.article_id, "outcome": r.kind}
        if r.kind == "emitted":
            log.info("emitted", extra=extra)
        else:
            log.warning(r.kind, extra={**extra, "reason": r.reason, "error": r.error})

    def _where(self) -> dict[str, Any]:
        return {"stage": self.spec.name, "topic": self.spec.input_topic(self.settings)}

    def close(self) -> None:
        self.consumer.close()  # leaves the group at once, so a replica takes over promptly
        self.producer.flush()
        self.producer.close()
        self.processor.stage.close()
        log.info("worker stopped", extra={**self._where(), **self.counts})


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        retries=10,
        # Room for any message the broker accepts: oversized input is dead-lettered whole.
        max_request_size=BROKER_MAX_MESSAGE_BYTES,
        client_id="newsflow",
    )


def make_worker(spec: StageSpec, settings: Settings, *, install_signals: bool = True) -> Worker:
    """Wire a stage to Kafka (and Elasticsearch) as configured. Entry points call this."""
    stop = threading.Event()
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    stage = spec.build(settings, StageContext(offline=False, es=es))
    consumer = KafkaConsumer(
        spec.input_topic(settings),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.group(spec.name),
        client_id=f"newsflow-{spec.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_size,
        fetch_max_bytes=max(52428800, BROKER_MAX_MESSAGE_BYTES),
        max_partition_fetch_bytes=BROKER_MAX_MESSAGE_BYTES,
    )
    producer = make_producer(settings)
    output = spec.output_topic(settings)
    sink: Sink = KafkaSink(producer, output) if output else ElasticsearchSink(
        es, settings, spec.name, stop)
    worker = Worker(spec, settings, BatchProcessor(spec, stage, settings.max_message_bytes),
                    sink, consumer, producer, stop)
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return worker


# --- offline: the same processing over JSON Lines files -----------------------------------


def run_offline(spec: StageSpec, settings: Settings, lines: Iterable[bytes]) -> list[Result]:
    """Run a stage over JSONL records without Kafka: dedup keeps its state in memory, and
    ``index`` returns the documents it would write. Batches as the worker does."""
    stage = spec.build(settings, StageContext(offline=True))
    processor = BatchProcessor(spec, stage, settings.max_message_bytes)
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
