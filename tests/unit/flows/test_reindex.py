"""flows.reindex's choice of indices to drop, over a fake Elasticsearch client."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from flows.reindex import carried, drop_old_indices, indices_behind_alias
from workers.settings import WorkerSettings


class FakeIndices:
    def __init__(self, names: list[str], behind_alias: list[str]) -> None:
        self.names = names
        self.behind_alias = behind_alias
        self.deleted: list[str] = []

    def exists_alias(self, name: str) -> bool:
        return bool(self.behind_alias)

    def get_alias(self, name: str) -> dict[str, Any]:
        return {n: {"aliases": {name: {}}} for n in self.behind_alias}

    def get(self, index: str, expand_wildcards: str) -> dict[str, Any]:
        prefix = index.rstrip("*")
        return {n: {} for n in self.names if n.startswith(prefix)}

    def delete(self, index: str) -> None:
        self.deleted.append(index)


def _es(names: list[str], behind_alias: list[str]) -> Any:
    return cast(Any, SimpleNamespace(indices=FakeIndices(names, behind_alias)))


SETTINGS = WorkerSettings(es_alias="news")


def test_only_our_versioned_indices_the_alias_left_behind_are_dropped() -> None:
    es = _es(["news-v1", "news-v2-000001", "news-v2-000002", "news-v3-000001",
              "news-v-old", "news-v2-backup", "news-vintage"],
             behind_alias=["news-v3-000001"])
    assert drop_old_indices(es, SETTINGS) == ["news-v1", "news-v2-000001", "news-v2-000002"]
    assert es.indices.deleted == ["news-v1", "news-v2-000001", "news-v2-000002"]


def test_nothing_is_dropped_without_the_alias() -> None:
    es = _es(["news-v1"], behind_alias=[])
    assert indices_behind_alias(es, SETTINGS) == []
    with pytest.raises(ValueError, match="does not exist: refusing to drop"):
        drop_old_indices(es, SETTINGS)
    assert es.indices.deleted == []


def test_the_indices_behind_the_alias_are_listed_in_order() -> None:
    es = _es([], behind_alias=["news-v2-000002", "news-v2-000001"])
    assert indices_behind_alias(es, SETTINGS) == ["news-v2-000001", "news-v2-000002"]


def test_a_document_of_an_older_mapping_gains_its_language_fields_whencarried_over() -> None:
    old = {"id": "a", "language": "de", "title": "Häfen", "body": "Die Häfen streiken."}
    assert carried(dict(old))["localized"] == {"de": {"title": "Häfen",
                                                       "body": "Die Häfen streiken."}}
    assert "localized" not in carried({**old, "language": "en"})
    newer = {**old, "localized": {"de": {"title": "x", "body": "y"}}}
    assert carried(dict(newer)) == newer  # already there: left as it is


def test_a_document_from_before_stories_takes_its_cluster_as_its_story() -> None:
    old = {"id": "a", "language": "en", "body": "x", "cluster_id": "c1"}
    assert carried(dict(old))["story_id"] == "c1"
    assert carried({**old, "story_id": "s-a"})["story_id"] == "s-a"
