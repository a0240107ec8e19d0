"""Search over a real Elasticsearch: relevance, filters, facets, collapsing, index lifecycle.

The corpus is a dozen short articles written for this test, indexed directly (as the index
stage would, ``IndexDocument`` JSON through the alias) into an index of the test's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from elasticsearch import Elasticsearch

from newsflow.config import Settings
from newsflow.search import Filters, SearchResult, search
from schemas.articles import IndexDocument
from workers.io import elastic

pytestmark = pytest.mark.integration


def doc(id: str, source: str, title: str, body: str, day: str, *, cluster: str | None = None,
        persons: tuple[str, ...] = (), organizations: tuple[str, ...] = (),
        locations: tuple[str, ...] = (), countries: tuple[str, ...] = (),
        language: str = "en", duplicate_of: str | None = None) -> IndexDocument:
    return IndexDocument(
        id=id, url=f"https://{source}/{id}", canonical_url=f"https://{source}/{id}",
        source=source, title=title, body=body, language=language,
        published_at=datetime.fromisoformat(f"{day}T09:00:00+00:00"),
        word_count=len(body.split()), cluster_id=cluster or id, story_id=cluster or id,
        is_duplicate=duplicate_of is not None, duplicate_of=duplicate_of,
        persons=list(persons), organizations=list(organizations), locations=list(locations),
        countries=list(countries), versions={"index": "test"}, indexed_at=datetime.now(UTC),
    )


STRIKE = ("Dockworkers walked out at the container terminals of Rotterdam on Monday, halting "
          "cranes across Europe's largest port. The union said the strike would last 48 hours.")
CORPUS = [
    doc("strike-1", "portnews.example", "Dockworkers strike at Rotterdam port", STRIKE,
        "2024-03-04", cluster="c-strike", persons=("Anna de Vries",), organizations=("FNV",),
        locations=("Rotterdam", "Netherlands"), countries=("NL",)),
    doc("strike-2", "wire.example", "Dockworkers strike at Rotterdam port", STRIKE,
        "2024-03-04", cluster="c-strike", locations=("Rotterdam",), countries=("NL",),
        duplicate_of="strike-1"),
    doc("strike-3", "daily.example", "Rotterdam port halted as dockers walk out",
        "Ships queued outside Rotterdam as a dockworkers' strike stopped the terminals.",
        "2024-03-05", cluster="c-strike", locations=("Rotterdam",), countries=("NL",)),
    doc("quake", "anatolia.example", "Earthquake shakes eastern Turkey",
        "A magnitude 5.9 earthquake struck near Malatya in eastern Turkey, officials said. "
        "Rescue teams searched collapsed buildings through the night.", "2024-02-10",
        locations=("Türkiye", "Malatya"), countries=("TR",)),
    doc("dinner", "food.example", "Thanksgiving dinner costs climb",
        "The price of a whole turkey rose again this year, and so did cranberries.",
        "2023-11-20"),
    doc("farmers", "agri.example", "Farmers block roads over fertiliser prices",
        "Farmers protesting the cost of fertiliser blocked motorways with tractors; the "
        "protests spread to three provinces.", "2024-01-25",
        locations=("Brussels",), countries=("BE",)),
    doc("bank", "money.example", "Central bank raises interest rates",
        "The central bank raised its main rate by a quarter point to cool prices.",
        "2024-03-01", organizations=("European Central Bank",)),
    doc("river", "local.example", "Flooding in the central district",
        "The river burst its bank overnight and water reached the central square.",
        "2024-03-02", locations=("Cologne",), countries=("DE",)),
    doc("ecb", "money.example", "ECB holds rates steady",
        "Christine Lagarde said the governing council would keep rates where they are.",
        "2024-03-07", persons=("Christine Lagarde",),
        organizations=("European Central Bank",)),
    doc("lagarde-mention", "blog.example", "What markets expect this spring",
        "Traders weighed rate cuts; some quoted Christine Lagarde and many others.",
        "2024-03-08"),
    doc("greve", "presse.example", "Grève des dockers à Rotterdam",
        "Les dockers du port de Rotterdam sont en grève depuis lundi.", "2024-03-05",
        cluster="c-strike", locations=("Rotterdam",), countries=("NL",), language="fr"),
]


@pytest.fixture(scope="module")
def corpus(base_settings: Settings) -> Iterator[tuple[Elasticsearch, Settings]]:
    settings = base_settings.model_copy(update={"es_alias": f"news-s{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    try:
        failures = elastic.bulk_index(es, settings.es_alias,
                                      [(d.id, d.to_bytes()) for d in CORPUS])
        assert failures == []
        es.indices.refresh(index=settings.es_alias)
        yield es, settings
    finally:
        elastic.drop_index(es, settings)


def run(corpus: tuple[Elasticsearch, Settings], query: str, **kw: object) -> SearchResult:
    es, settings = corpus
    return search(es, settings.es_alias, query, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "first"), [
    ('"central bank"', "bank"),  # exact phrase
    ("protested", "farmers"),  # stemmed: the text says "protesting" and "protests"
    ("Christine Lagarde", "ecb"),  # entity name: the article whose person facet holds it
    ("Türkiye", "quake"),  # canonical name; the text says "Turkey"
    ("Türkiye earthquake", "quake"),
    ("turkey", "quake"),  # the country outranks the bird: its canonical entity is Türkiye
    ("dockworkers strike", "strike-1"),  # title boost, earliest of equal scores is fine
])
def test_expected_article_ranks_first(corpus, query: str, first: str) -> None:
    result = run(corpus, query)
    assert result.hits, f"nothing found for {query!r}"
    assert result.hits[0].id == first, [(h.id, h.score) for h in result.hits]


def test_a_phrase_needs_its_words_together(corpus) -> None:
    result = run(corpus, '"central bank"', size=20)
    ids = {h.id for h in result.hits}
    assert "river" not in ids  # "bank" and "central", but not as a phrase
    assert {"bank"} <= ids
    # The phrase ran on the unstemmed subfield, and is highlighted from it.
    snippet = result.hits[0].snippet or ""
    assert "<em>central bank</em>" in snippet.lower(), snippet


def test_snippets_are_highlighted(corpus) -> None:
    hit = run(corpus, "fertiliser").hits[0]
    assert hit.id == "farmers" and "<em>fertiliser</em>" in (hit.snippet or "")
    assert run(corpus, "*", size=1).hits[0].snippet  # the body's start without a match


def test_filters(corpus) -> None:
    assert {h.id for h in run(corpus, "*", filters=Filters(country="NL"), size=20).hits} == \
        {"strike-1", "strike-2", "strike-3", "greve"}
    assert [h.id for h in run(corpus, "*", filters=Filters(entity="Turkey")).hits] == ["quake"]
    assert [h.id for h in run(corpus, "*", filters=Filters(entity="christine lagarde")).hits] \
        == ["ecb"]
    assert [h.id for h in run(corpus, "Rotterdam", filters=Filters(language="fr")).hits] == \
        ["greve"]
    assert {h.id for h in run(corpus, "*", filters=Filters(source="money.example")).hits} == \
        {"bank", "ecb"}
    march = run(corpus, "*", filters=Filters(since=date(2024, 3, 5), until=date(2024, 3, 7)),
                size=20)
    assert {h.id for h in march.hits} == {"strike-3", "greve", "ecb"}


def test_facets_and_timeline_count_the_matches(corpus) -> None:
    result = run(corpus, "*", size=1)
    assert result.total == len(CORPUS)
    assert ("NL", 4) in result.facets["countries"]
    assert ("European Central Bank", 2) in result.facets["organizations"]
    assert ("money.example", 2) in result.facets["source"]
    assert {name for name, _ in result.facets["persons"]} == {"Anna de Vries",
                                                             "Christine Lagarde"}
    assert sum(count for _, count in result.timeline) == len(CORPUS)
    assert result.timeline_interval


def test_collapse_shows_each_story_once_with_its_outlets(corpus) -> None:
    flat = run(corpus, "Rotterdam", size=20)
    assert len([h for h in flat.hits if h.cluster_id == "c-strike"]) == 4
    story = run(corpus, "Rotterdam", size=20, collapse=True)
    strike = [h for h in story.hits if h.story_id == "c-strike"]
    assert len(strike) == 1 and story.stories == len(story.hits)
    assert strike[0].story_articles == 4 and strike[0].story_outlet_count == 4
    assert set(strike[0].story_outlets or []) == {"portnews.example", "wire.example",
                                                  "daily.example", "presse.example"}


def test_pages_do_not_overlap(corpus) -> None:
    first, second = run(corpus, "*", size=4, page=1), run(corpus, "*", size=4, page=2)
    assert len(first.hits) == len(second.hits) == 4
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}


def test_new_install_is_a_generation_of_the_newest_mapping_behind_the_alias(corpus) -> None:
    es, settings = corpus
    index = elastic.write_index(es, settings.es_alias)
    newest = elastic.mapping_versions()[-1]
    assert index == f"{settings.es_alias}-v{newest}-000001"
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["_meta"]["mapping_version"] == newest
    templates = es.indices.get_index_template(
        name=f"{settings.es_alias}-v{newest}")["index_templates"]
    assert templates[0]["index_template"]["index_patterns"] == [
        f"{settings.es_alias}-v{newest}-*"]


def test_rollover_keeps_every_generation_searchable(base_settings: Settings) -> None:
    settings = base_settings.model_copy(update={"es_alias": f"news-r{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    try:
        first = elastic.ensure_index(es, settings)
        elastic.bulk_index(es, settings.es_alias, [(CORPUS[0].id, CORPUS[0].to_bytes())])
        es.indices.refresh(index=settings.es_alias)  # max_docs counts searchable documents
        waiting = elastic.rollover(es, settings)  # a fresh index meets no condition
        assert not waiting.rolled_over and waiting.conditions
        done = elastic.rollover(es, settings, max_docs=1)
        assert done.rolled_over and done.old_index == first
        newest = elastic.mapping_versions()[-1]
        assert done.new_index == f"{settings.es_alias}-v{newest}-000002"
        assert elastic.write_index(es, settings.es_alias) == done.new_index
        elastic.bulk_index(es, settings.es_alias, [(CORPUS[3].id, CORPUS[3].to_bytes())])
        es.indices.refresh(index=settings.es_alias)
        assert es.count(index=done.new_index)["count"] == 1
        result = search(es, settings.es_alias, "*")
        assert {h.id for h in result.hits} == {CORPUS[0].id, CORPUS[3].id}
        # The new generation has the same strict mapping.
        with pytest.raises(Exception, match="strict"):
            es.index(index=settings.es_alias, id="x", document={"no_such_field": 1})
    finally:
        elastic.drop_index(es, settings)


def test_a_v1_install_still_searches_and_rolls_over(base_settings: Settings) -> None:
    settings = base_settings.model_copy(update={"es_alias": f"news-o{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    _, body = elastic.index_definition(1)
    legacy = elastic.index_name(settings, 1)
    try:
        es.indices.create(index=legacy, settings=body["settings"], mappings=body["mappings"],
                          aliases={settings.es_alias: {"is_write_index": True}})
        assert elastic.ensure_index(es, settings) == legacy  # left as it is
        old = CORPUS[3].model_copy(update={"story_id": None})  # a document of its day
        assert not elastic.bulk_index(es, settings.es_alias, [(old.id, old.to_bytes())])
        es.indices.refresh(index=settings.es_alias)
        assert [h.id for h in search(es, settings.es_alias, "Turkey earthquake").hits] == \
            ["quake"]
        done = elastic.rollover(es, settings, force=True)
        assert done.rolled_over and done.new_index == f"{legacy}-000002"
        mapping = es.indices.get_mapping(index=done.new_index)[done.new_index]["mappings"]
        assert mapping["_meta"]["mapping_version"] == 1
    finally:
        elastic.drop_index(es, settings)
