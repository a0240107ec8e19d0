"""Where a stage's emitted articles go: the next Kafka topic, or Elasticsearch (``index``).

In: the emitted :class:`~workers.runtime.batch.Result` of a batch. Out: every write
acknowledged, or an exception (then nothing of the batch is committed and the worker retries
it): a Kafka send error, or :class:`~workers.stage.TransientError` when Elasticsearch refused
items for its own reasons (429, 5xx, unreachable). Documents Elasticsearch rejects for good
(a mapping conflict, another 4xx) are marked ``dead`` with its reason.
"""

from __future__ import annotations

from typing import Protocol

from elasticsearch import ApiError, Elasticsearch, TransportError
from kafka import KafkaProducer
from pydantic import BaseModel

from workers.io import elastic
from workers.runtime.batch import Result
from workers.stage import TransientError


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
    """Bulk-indexes documents through the alias."""

    def __init__(self, es: Elasticsearch, alias: str) -> None:
        self.es = es
        self.alias = alias

    def write(self, results: list[Result]) -> None:
        docs = [(r.article_id or "", _to_bytes(r.output)) for r in results]
        try:
            failures = elastic.bulk_index(self.es, self.alias, docs)
        except ApiError as exc:
            if 400 <= exc.status_code < 500 and exc.status_code != 429:
                raise  # a request we built wrong: a bug, not a fault to wait out
            raise TransientError(f"elasticsearch bulk: HTTP {exc.status_code}") from exc
        except TransportError as exc:
            raise TransientError(f"elasticsearch unreachable: {exc}") from exc
        transient = [f for f in failures if f.transient]
        if transient:
            # Written again whole on the retry: the documents already written are overwritten
            # under the same _id, not doubled.
            raise TransientError(f"elasticsearch refused {len(transient)} of {len(docs)} "
                                 f"documents for now (HTTP {transient[0].status})")
        for failure in failures:
            result = results[failure.position]
            result.kind, result.reason = "dead", "index-rejected"
            result.error, result.error_type = failure.error, f"http-{failure.status}"


def _to_bytes(model: BaseModel | None) -> bytes:
    assert model is not None
    return model.model_dump_json(exclude_none=True).encode("utf-8")
