from datetime import UTC, datetime

from schemas.articles import Entity, IndexDocument, Mention, StoriedArticle
from workers.index import IndexStage
from workers.io.elastic import index_definition
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
    article = StoriedArticle(
        id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
        title="T", body="Body", word_count=1, cluster_id="abc", text_hash="h",
        story_id="s-abc", story_score=1.0, story_vector=[1.0, 0.0],
        persons=["Ada Lovelace"], metadata={"k": "v"}, versions={"clean": "1"},
    )
    [outcome] = IndexStage().process([article])
    assert isinstance(outcome, Emit)
    doc = outcome.article
    assert doc.id == "abc" and doc.persons == ["Ada Lovelace"] and doc.metadata == {"k": "v"}
    assert doc.versions == {"clean": "1", "index": "1.1.0"}
    assert doc.story_id == "s-abc" and doc.story_score == 1.0
    assert doc.indexed_at <= datetime.now(UTC)


def test_the_document_carries_every_field_of_the_article_it_shares_entities_included():
    # Every document field but the index's own comes from the article, so none is left out.
    own = {"indexed_at", "localized"}
    assert set(IndexDocument.model_fields) - own <= set(StoriedArticle.model_fields)
    article = StoriedArticle(
        id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
        title="T", body="Ada Lovelace wrote.", word_count=3, cluster_id="c1", text_hash="h",
        story_id="s-abc", story_score=1.0, story_vector=[1.0, 0.0],
        is_duplicate=True, duplicate_of="x", similarity=0.9, language="en",
        published_at=datetime(2025, 1, 2, tzinfo=UTC),
        entities=[Entity(name="Ada Lovelace", type="person", count=1,
                         mentions=[Mention(start=0, end=12)])],
        persons=["Ada Lovelace"], entities_model="corenlp",
    )
    [outcome] = IndexStage().process([article])
    assert isinstance(outcome, Emit)
    shared = set(IndexDocument.model_fields) - {"indexed_at", "versions", "localized"}
    assert outcome.article.model_dump(include=shared) == article.model_dump(include=shared)
    assert outcome.article.entities[0].mentions == [Mention(start=0, end=12)]


def test_an_article_in_a_language_with_an_analyser_is_indexed_again_under_its_language():
    def doc(language):
        article = StoriedArticle(
            id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
            title="Huelga en el puerto", body="Los estibadores convocan huelgas.", word_count=4,
            cluster_id="c1", text_hash="h", language=language, story_id="s-abc",
            story_score=1.0, story_vector=[1.0, 0.0])
        [outcome] = IndexStage().process([article])
        assert isinstance(outcome, Emit)
        return outcome.article

    _, body = index_definition()
    localized = body["mappings"]["properties"]["localized"]["properties"]
    assert localized["es"]["properties"]["body"]["analyzer"] == "spanish"
    assert doc("es").localized == {"es": {"title": "Huelga en el puerto",
                                          "body": "Los estibadores convocan huelgas."}}
    # English is analysed in title and body; a language without an analyser has none: the
    # field is left out of the JSON, so such documents also fit an index of mapping 2.
    for language in ("en", "pt", None):
        assert doc(language).localized is None
        assert "localized" not in doc(language).model_dump_json(exclude_none=True)


def test_an_article_without_a_story_vector_is_indexed_without_one() -> None:
    article = StoriedArticle(
        id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
        title="T", body="...", word_count=0, cluster_id="abc", text_hash="h",
        story_id="s-abc", story_score=1.0, story_vector=[])
    [outcome] = IndexStage().process([article])
    assert isinstance(outcome, Emit)
    assert "story_vector" not in outcome.article.model_dump(exclude_none=True)


def test_an_index_of_a_mapping_before_stories_gets_documents_without_story_fields() -> None:
    article = StoriedArticle(
        id="abc", url="https://e.com/1", canonical_url="https://e.com/1", source="e.com",
        title="T", body="Body", word_count=1, cluster_id="abc", text_hash="h",
        story_id="s-abc", story_score=1.0, story_vector=[1.0, 0.0],
        versions={"stories": "1.0.0"})
    for version, kept in ((3, False), (4, True), (None, True)):
        [outcome] = IndexStage(lambda v=version: v).process([article])  # type: ignore[misc]
        assert isinstance(outcome, Emit)
        assert ("story_id" in outcome.article.model_dump(exclude_none=True)) is kept, version
        assert ("stories" in outcome.article.versions) is kept
