"""Where emitted articles go, with fake clients: what is retried, what is dead for good."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from elasticsearch import ApiError, ConnectionError

from tests.unit.workers.runtime.shouting import Out
from workers.runtime.batch import Message, Result
from workers.runtime.sinks import ElasticsearchSink, KafkaSink
from workers.stage import TransientError


def _emitted(*ids: str) -> list[Result]:
    return [Result(Message(b"{}", offset=n), "emitted", i, output=Out(id=i, upper=i.upper()))
            for n, i in enumerate(ids)]


class FakeElasticsearch:
    """Answers a bulk request with the given item statuses (200 by default), or raises."""

    def __init__(self, statuses: list[int] | None = None, raises: Exception | None = None):
        self.statuses = statuses or []
        self.raises = raises
        self.requests: list[str] = []

    def bulk(self, operations: str) -> dict[str, Any]:
        self.requests.append(operations)
        if self.raises:
            raise self.raises
        items = [{"index": {"status": s} if s < 300 else
                  {"status": s, "error": {"type": f"error-{s}", "reason": "refused"}}}
                 for s in self.statuses]
        return {"errors": any(s >= 300 for s in self.statuses), "items": items}


def _sink(es: FakeElasticsearch) -> ElasticsearchSink:
    return ElasticsearchSink(cast(Any, es), "news")


def test_documents_are_bulk_indexed_under_their_article_id_through_the_alias():
    es = FakeElasticsearch([201, 201])
    results = _emitted("a", "b")
    _sink(es).write(results)
    [request] = es.requests
    lines = [json.loads(line) for line in request.splitlines()]
    assert lines == [{"index": {"_index": "news", "_id": "a"}}, {"id": "a", "upper": "A"},
                     {"index": {"_index": "news", "_id": "b"}}, {"id": "b", "upper": "B"}]
    assert [r.kind for r in results] == ["emitted", "emitted"]


def test_an_item_refused_for_now_raises_a_transient_error_for_the_whole_batch():
    results = _emitted("a", "b", "c")
    with pytest.raises(TransientError, match=r"refused 1 of 3 documents for now \(HTTP 429\)"):
        _sink(FakeElasticsearch([201, 429, 400])).write(results)
    assert [r.kind for r in results] == ["emitted"] * 3  # nothing decided: the batch is retried


def test_an_item_rejected_for_good_is_marked_dead_and_the_others_stay_written():
    results = _emitted("a", "b", "c")
    _sink(FakeElasticsearch([201, 400, 201])).write(results)
    assert [(r.kind, r.reason) for r in results] == [
        ("emitted", None), ("dead", "index-rejected"), ("emitted", None)]
    assert results[1].error_type == "http-400"
    assert json.loads(results[1].error or "")["type"] == "error-400"


def _api_error(status: int) -> ApiError:
    return ApiError("refused", cast(Any, SimpleNamespace(status=status)), body={})


@pytest.mark.parametrize("fault", [_api_error(503), _api_error(429),
                                   ConnectionError("connection refused")])
def test_elasticsearch_away_or_overloaded_is_transient(fault: Exception):
    with pytest.raises(TransientError):
        _sink(FakeElasticsearch(raises=fault)).write(_emitted("a"))


def test_a_request_elasticsearch_calls_bad_is_raised_as_it_is():
    with pytest.raises(ApiError):
        _sink(FakeElasticsearch(raises=_api_error(400))).write(_emitted("a"))


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float) -> None:
        if self.error:
            raise self.error


class FakeProducer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.flushed = False

    def send(self, topic: str, key: bytes | None, value: bytes) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture(self.error)

    def flush(self) -> None:
        self.flushed = True


def test_kafka_sink_sends_each_output_keyed_by_article_id_and_waits_for_the_acks():
    producer = FakeProducer()
    results = _emitted("a", "b")
    results[1].article_id = None
    KafkaSink(cast(Any, producer), "news.out").write(results)
    assert producer.sent == [("news.out", b"a", b'{"id":"a","upper":"A"}'),
                             ("news.out", None, b'{"id":"b","upper":"B"}')]
    assert producer.flushed


def test_kafka_sink_raises_a_send_error_so_the_batch_is_not_committed():
    with pytest.raises(RuntimeError, match="not acknowledged"):
        KafkaSink(cast(Any, FakeProducer(RuntimeError("not acknowledged"))), "t").write(
            _emitted("a"))
