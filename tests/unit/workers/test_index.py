from datetime import UTC, datetime

from newsflow.elastic import index_definition
from schemas.articles import EnrichedArticle, IndexDocument
from workers.index import IndexStage
from workers.stage import Emit


def test_every_document_field_is_in_the_mapping_and_the_mapping_is_strict():
    _, body = index_definition()
    properties = body["mappings"]["properties"]
    assert body["mappings"]["dynamic"] == "strict"
    assert set(IndexDocument.model_fields) <= set(properties)
    for facet in ("source", "language", "persons", "organizations", "locations", "cluster_id"):
        assert properties[facet]["type"] == "keyword"
    assert properties["published_at"]["type"] == "date"
    assert properties["title"]["type"] == properties["body"]["type"] == "text"


def test_index_stage_shapes_the_document_and_records_its_version():
    article = EnrichedArticle(
        id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
        title="T", body="Body", word_count=1, cluster_id="abc", text_hash="h",
        persons=["Ada Lovelace"], metadata={"k": "v"}, versions={"clean": "1"},
    )
    [outcome] = IndexStage().process([article])
    assert isinstance(outcome, Emit)
    doc = outcome.article
    assert doc.id == "abc" and doc.persons == ["Ada Lovelace"] and doc.metadata == {"k": "v"}
    assert doc.versions == {"clean": "1", "index": "1.0.0"}
    assert doc.indexed_at <= datetime.now(UTC)
