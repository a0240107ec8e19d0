"""Index definitions, names and templates of workers.io.elastic, without Elasticsearch."""

from __future__ import annotations

import pytest

from schemas.articles import IndexDocument
from workers.io import elastic
from workers.settings import WorkerSettings


def test_newest_mapping_is_strict_and_holds_every_document_field() -> None:
    version, body = elastic.index_definition()
    assert version >= 2
    mapping = body["mappings"]
    assert mapping["dynamic"] == "strict"
    assert set(IndexDocument.model_fields) <= set(mapping["properties"])


def test_v2_analysis_stems_title_and_body_with_exact_subfields() -> None:
    _, body = elastic.index_definition(2)
    props = body["mappings"]["properties"]
    for field in ("title", "body"):
        assert props[field]["analyzer"] == "news_english"
        assert props[field]["fields"]["exact"]["analyzer"] == "news_exact"
    analyzers = body["settings"]["analysis"]["analyzer"]
    assert "english_porter" in analyzers["news_english"]["filter"]
    assert "english_porter" not in analyzers["news_exact"]["filter"]
    for facet in ("source", "language", "countries", "persons", "organizations", "locations",
                  "cluster_id"):
        assert props[facet]["type"] == "keyword"
    assert props["published_at"]["type"] == "date"
    assert set(props["versions"]["properties"]) >= {"clean", "dedup", "entities", "index"}


def test_names_of_generations() -> None:
    settings = WorkerSettings(es_alias="news")
    assert elastic.index_name(settings, 1) == "news-v1"
    assert elastic.index_name(settings, 2) == "news-v2-000001"
    assert elastic.next_generation("news-v1") == (1, "news-v1-000002")
    assert elastic.next_generation("news-v2-000001") == (2, "news-v2-000002")
    assert elastic.next_generation("news-t1a2b-v2-000041") == (2, "news-t1a2b-v2-000042")
    with pytest.raises(ValueError):
        elastic.next_generation("something-else")


def test_template_covers_the_generations_and_names_the_policy_only_with_ilm() -> None:
    settings = WorkerSettings(es_alias="news")
    plain = elastic.index_template(settings, 2)
    assert plain["index_patterns"] == ["news-v2-*"]
    assert "index.lifecycle.name" not in plain["template"]["settings"]
    with_ilm = elastic.index_template(settings, 2, ilm=True)
    assert with_ilm["template"]["settings"]["index.lifecycle.rollover_alias"] == "news"
    rollover = elastic.lifecycle_policy()["phases"]["hot"]["actions"]["rollover"]
    assert rollover["max_age"] and rollover["max_primary_shard_size"]


class _Health:
    def __init__(self, nodes: int) -> None:
        self.cluster = self
        self.nodes = nodes

    def health(self) -> dict[str, int]:
        return {"number_of_data_nodes": self.nodes}


@pytest.mark.parametrize(("nodes", "setting", "expected"), [
    (1, -1, 0), (2, -1, 1), (3, -1, 1), (3, 2, 2), (1, 1, 1)])
def test_index_replicas_follow_the_cluster_unless_set(nodes: int, setting: int,
                                                     expected: int) -> None:
    es = _Health(nodes)
    assert elastic.replicas(es, WorkerSettings(es_replicas=setting)) == expected  # type: ignore[arg-type]


def test_the_template_carries_the_replica_count() -> None:
    body = elastic.index_template(WorkerSettings(), 2, replica_count=1)
    assert body["template"]["settings"]["number_of_replicas"] == 1
