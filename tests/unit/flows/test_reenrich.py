"""flows.reenrich without Elasticsearch: which stage to redo, the selection query, and the
input message rebuilt from an indexed document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from flows.reenrich import first_stale_stage, input_for, selection
from schemas.articles import (
    CleanArticle,
    DedupedArticle,
    EnrichedArticle,
    RawArticle,
    StoriedArticle,
)
from workers.dedup.fingerprint import article_text, text_hash, tokens
from workers.topology import STAGES, current_versions

CURRENT = {"clean": "2", "dedup": "2", "entities": "3", "stories": "1", "index": "1"}


@pytest.mark.parametrize(("recorded", "stage"), [
    (CURRENT, None),
    ({**CURRENT, "entities": "2"}, "entities"),
    ({**CURRENT, "entities": "2", "index": "0"}, "entities"),  # the first in pipeline order
    ({**CURRENT, "index": "0", "dedup": "1"}, "dedup"),
    ({k: v for k, v in CURRENT.items() if k != "index"}, "index"),  # never recorded: stale
    ({}, "clean"),
])
def test_the_first_stage_whose_version_changed_is_the_one_to_redo(
        recorded: dict[str, str], stage: str | None) -> None:
    assert first_stale_stage(recorded, CURRENT) == stage


def test_the_whole_index_is_selected_when_nothing_narrows_it() -> None:
    assert selection() == {"bool": {"must": [{"match_all": {}}], "filter": []}}


def test_a_query_dates_and_sources_narrow_the_selection() -> None:
    since, until = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    query = selection("rates -bank", since, until, ["a.com", "b.org"])
    assert query == {"bool": {
        "must": [{"simple_query_string": {"query": "rates -bank", "fields": ["title", "body"],
                                          "default_operator": "and"}}],
        "filter": [{"range": {"published_at": {"gte": since.isoformat(),
                                               "lt": until.isoformat()}}},
                   {"terms": {"source": ["a.com", "b.org"]}}]}}
    only_since = selection(since=since)["bool"]["filter"]
    assert only_since == [{"range": {"published_at": {"gte": since.isoformat()}}}]


DOC: dict[str, Any] = {
    "id": "abc", "url": "https://e.com/a", "canonical_url": "https://e.com/a",
    "source": "e.com", "title": "Rates rise", "body": "The bank raised rates today.",
    "authors": ["A. Writer"], "published_at": "2024-01-05T10:00:00Z", "language": "en",
    "language_confidence": 0.99, "word_count": 5, "cluster_id": "abc", "is_duplicate": False,
    "entities": [{"name": "Bank", "type": "organization", "count": 1}],
    "organizations": ["Bank"], "persons": [], "locations": [], "countries": [],
    "entities_model": "en_core_web_sm", "metadata": {"feed": "x"},
    "story_id": "s-abc", "story_score": 1.0, "story_vector": [1.0] + [0.0] * 255,
    "versions": {"clean": "1", "dedup": "1", "entities": "1", "stories": "1", "index": "1"},
    "indexed_at": "2024-01-05T10:00:05Z",
}


def test_clean_gets_the_cleaned_text_back_as_a_raw_article() -> None:
    raw = json.loads(input_for("clean", DOC))
    assert raw == {"url": "https://e.com/a", "title": "Rates rise", "source": "e.com",
                   "published_at": "2024-01-05T10:00:00Z", "language": "en",
                   "text": "The bank raised rates today.", "metadata": {"feed": "x"}}
    RawArticle.model_validate(raw)


def test_fields_the_document_lacks_are_left_out_of_the_raw_article() -> None:
    doc = {k: v for k, v in DOC.items() if k not in ("title", "language", "metadata")}
    raw = json.loads(input_for("clean", doc))
    assert set(raw) == {"url", "source", "published_at", "text", "metadata"}
    assert raw["metadata"] == {}


def test_dedup_gets_the_clean_article_without_what_later_stages_added() -> None:
    article = CleanArticle.model_validate_json(input_for("dedup", DOC))
    assert article.id == "abc" and article.body == DOC["body"]
    assert article.versions == DOC["versions"]
    assert "cluster_id" not in json.loads(input_for("dedup", DOC))


def test_entities_gets_the_dedup_hash_recomputed_with_dedups_own_function() -> None:
    article = DedupedArticle.model_validate_json(input_for("entities", DOC))
    assert article.text_hash == text_hash(tokens(article_text(DOC["title"], DOC["body"])))
    assert article.cluster_id == "abc"
    assert "entities" not in json.loads(input_for("entities", DOC))
    given = DedupedArticle.model_validate_json(input_for("entities", {**DOC, "text_hash": "h"}))
    assert given.text_hash == "h"


def test_stories_gets_the_enriched_article_without_its_story() -> None:
    article = EnrichedArticle.model_validate_json(input_for("stories", DOC))
    assert article.organizations == ["Bank"] and article.entities[0].name == "Bank"
    assert "story_id" not in json.loads(input_for("stories", DOC))


def test_index_gets_the_storied_article() -> None:
    article = StoriedArticle.model_validate_json(input_for("index", DOC))
    assert article.story_id == "s-abc" and article.entities[0].name == "Bank"
    assert "indexed_at" not in json.loads(input_for("index", DOC))


def test_a_document_from_before_stories_is_redone_from_the_stories_stage() -> None:
    old = {k: v for k, v in DOC["versions"].items() if k != "stories"}
    assert first_stale_stage(old, {**old, "stories": "1"}) == "stories"


def test_every_stage_can_be_redone_from_a_document() -> None:
    assert set(current_versions()) == set(STAGES)
    for stage, spec in STAGES.items():
        spec.input_model.model_validate_json(input_for(stage, DOC))
