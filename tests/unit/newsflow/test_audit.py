"""The audit's identities and its books, without Kafka or Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow.audit import dead_identity, raw_identity, reconcile_books
from newsflow.config import Settings
from schemas.articles import article_id
from workers.io.dead_letters import DeadLetter

SETTINGS = Settings(topic_prefix="t")
URL = "https://e.com/a"
AID = article_id(URL)


def test_a_raw_message_with_a_url_is_its_article() -> None:
    assert raw_identity(json.dumps({"url": URL, "text": "x"}).encode(), 0, 1) == AID
    # One article however its URL is written (the id is of the canonical URL).
    assert raw_identity(b'{"url": "https://www.e.com/a?utm_source=x"}', 3, 9) == AID


@pytest.mark.parametrize("value", [b"{not json", b'{"url": "  "}', b'{"url": 5}', b"[1]",
                                   b'{"text": "no url"}', b"", None, b"\xff"])
def test_a_raw_message_without_a_usable_url_is_named_by_its_place(value: bytes | None) -> None:
    assert raw_identity(value, 2, 40) == "raw:2/40"


def dead(value: bytes = b"{}", source: str = "", article: str | None = None,
         offset: int = 5) -> DeadLetter:
    return DeadLetter(partition=1, offset=offset, at=datetime(2024, 1, 1, tzinfo=UTC), key=None,
                      value=value, stage="clean", reason="not-json", error_type="", error="",
                      source=source, attempts=1, article_id=article)


def test_a_dead_letter_is_named_by_its_id_header_first() -> None:
    assert dead_identity(dead(b"{bad", "t.raw/0/3", article="abc"), SETTINGS) == "abc"


def test_a_dead_raw_message_is_named_as_the_raw_message_itself() -> None:
    with_url = json.dumps({"url": URL}).encode()
    assert dead_identity(dead(with_url, "t.raw/0/3"), SETTINGS) == AID
    assert dead_identity(dead(b"{bad", "t.raw/4/17"), SETTINGS) == "raw:4/17"


def test_a_dead_later_message_is_named_by_its_json_id_else_by_where_it_came_from() -> None:
    assert dead_identity(dead(b'{"id": "xyz"}', "t.clean/0/3"), SETTINGS) == "xyz"
    assert dead_identity(dead(b"{bad", "t.clean/0/3"), SETTINGS) == "dlq:t.clean/0/3"
    assert dead_identity(dead(b'{"id": 7}', "t.clean/0/3"), SETTINGS) == "dlq:t.clean/0/3"
    # Not from this prefix's raw topic: not read by the raw rule.
    assert dead_identity(dead(b"{bad", "u.raw/0/3"), SETTINGS) == "dlq:u.raw/0/3"
    assert dead_identity(dead(b"{bad", "", offset=9), SETTINGS) == "dlq:1/9"


def test_the_books_balance_when_every_input_has_one_outcome() -> None:
    books = reconcile_books(["a", "b", "c", "raw:0/3"], documents={"a", "b"}, skipped={"c"},
                            dead={"raw:0/3"})
    assert (books.raw_messages, books.distinct_inputs) == (4, 4)
    assert (books.indexed, books.skipped, books.dead_lettered) == (2, 1, 1)
    assert books.missing == [] and books.unexpected == [] and books.recovered == 0
    assert books.balanced


def test_an_input_without_an_outcome_is_missing() -> None:
    books = reconcile_books(["a", "b", "c"], documents={"a"}, skipped=set(), dead=set())
    assert books.missing == ["b", "c"] and books.missing_count == 2
    assert (books.indexed, books.distinct_inputs) == (1, 3)
    assert not books.balanced


def test_a_document_without_an_input_is_unexpected() -> None:
    books = reconcile_books(["a"], documents={"a", "z"}, skipped=set(), dead=set())
    assert books.unexpected == ["z"] and books.unexpected_count == 1
    assert books.indexed == 1 and books.missing_count == 0
    assert not books.balanced


def test_a_dead_letter_replayed_then_indexed_counts_as_indexed_and_as_recovered() -> None:
    books = reconcile_books(["a", "a", "b", "c"], documents={"a"}, skipped={"b"},
                            dead={"a", "b", "c"})
    assert (books.indexed, books.skipped, books.dead_lettered) == (1, 1, 1)
    assert books.recovered == 2  # a (indexed) and b (skipped) were dead-lettered once
    assert books.balanced


def test_repeats_are_counted_once() -> None:
    # At-least-once delivery: the same article published twice, dead-lettered twice.
    books = reconcile_books(["a", "a", "b", "b", "b"], documents={"a"}, skipped=set(),
                            dead={"b"})
    assert (books.raw_messages, books.distinct_inputs) == (5, 2)
    assert (books.indexed, books.dead_lettered) == (1, 1)
    assert books.balanced


def test_the_lists_of_missing_and_unexpected_are_cut_at_fifty_but_counted_whole() -> None:
    inputs = [f"in{i:03}" for i in range(60)]
    docs = {f"doc{i:03}" for i in range(70)}
    books = reconcile_books(inputs, documents=docs, skipped=set(), dead=set())
    assert books.missing == inputs[:50] and books.missing_count == 60
    assert books.unexpected == sorted(docs)[:50] and books.unexpected_count == 70


def test_nothing_published_and_nothing_indexed_balances() -> None:
    books = reconcile_books([], documents=set(), skipped=set(), dead=set())
    assert books.raw_messages == 0 and books.balanced
