"""Search in each language over a real Elasticsearch: an inflected form finds the article.

One short article per language, written for this test, indexed as the index stage shapes it
(``workers.index.to_document``: the ``localized`` fields of mapping 3) into an index of the
test's own. The analysers are the local node's (our es9-compat module), under the names the
full distribution gives them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from newsflow.config import Settings
from newsflow.search import Filters, search
from schemas.articles import StoriedArticle
from workers.index import to_document
from workers.io import elastic

pytestmark = pytest.mark.integration

# language -> (title, body, a query in another inflected form of the body's word)
ARTICLES = {
    "es": ("Paro en el puerto de Valencia",
           "Los estibadores mantienen la huelga en el puerto de Valencia desde el lunes.",
           "huelgas"),
    "de": ("Stillstand in Hamburg",
           "Der Hafen von Hamburg steht seit Montag still, die Kräne ruhen.",
           "Häfen"),
    "nl": ("Stilstand in Rotterdam",
           "De staking in de haven van Rotterdam duurt al drie dagen.",
           "stakingen"),
    "it": ("Porto fermo a Genova",
           "Lo sciopero dei portuali blocca il porto di Genova da lunedì.",
           "scioperi"),
    "fr": ("Le port de Marseille à l'arrêt",
           "Les dockers de Marseille sont en grève depuis lundi matin.",
           "grèves"),
    "en": ("Dockers walk out in Felixstowe",
           "Dockers at Felixstowe started a strike on Monday over pay.",
           "strikes"),
}


def article(lang: str) -> StoriedArticle:
    title, body, _ = ARTICLES[lang]
    return StoriedArticle(
        id=f"port-{lang}", url=f"https://{lang}.example/port",
        canonical_url=f"https://{lang}.example/port",
        source=f"{lang}.example", title=title, body=body, language=lang,
        word_count=len(body.split()), cluster_id=f"port-{lang}", text_hash=lang,
        story_id=f"s-port-{lang}", story_score=1.0, story_vector=[1.0] + [0.0] * 255)


@pytest.fixture(scope="module")
def corpus(base_settings: Settings) -> Iterator[tuple[Elasticsearch, str]]:
    settings = base_settings.model_copy(update={"es_alias": f"news-l{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    try:
        now = datetime.now(UTC)
        docs = [to_document(article(lang), now) for lang in ARTICLES]
        assert elastic.bulk_index(es, settings.es_alias, [(d.id, d.to_bytes()) for d in docs]) == []
        es.indices.refresh(index=settings.es_alias)
        yield es, settings.es_alias
    finally:
        elastic.drop_index(es, settings)


@pytest.mark.parametrize("lang", sorted(ARTICLES))
def test_an_inflected_form_finds_the_article_in_its_language(
        corpus: tuple[Elasticsearch, str], lang: str) -> None:
    es, alias = corpus
    query = ARTICLES[lang][2]
    hits = search(es, alias, query, filters=Filters(language=lang)).hits
    assert [h.id for h in hits] == [f"port-{lang}"], query
    assert "<em>" in (hits[0].snippet or ""), hits[0].snippet  # highlighted from its field
    # Without a language every analyser is asked: the article is found all the same.
    assert f"port-{lang}" in [h.id for h in search(es, alias, query).hits]


@pytest.mark.parametrize(("lang", "form", "other"), [
    # German: not "Häfen", which ASCII folding alone already makes "hafen".
    ("es", "huelgas", "huelga"), ("de", "Verhandlungen", "Verhandlung"),
    ("nl", "stakingen", "staking"),
    ("it", "scioperi", "sciopero"), ("fr", "grèves", "grève")])
def test_the_languages_analyser_joins_the_forms_the_neutral_field_keeps_apart(
        corpus: tuple[Elasticsearch, str], lang: str, form: str, other: str) -> None:
    es, alias = corpus

    def terms(field: str, text: str) -> list[str]:
        tokens = es.indices.analyze(index=alias, field=field, text=text)["tokens"]
        return [t["token"] for t in tokens]

    assert terms(f"localized.{lang}.body", form) == terms(f"localized.{lang}.body", other)
    assert terms("body.exact", form) != terms("body.exact", other)
    # Stop words of the language are dropped ("de", "der", "het", "il", "les").
    stop = {"es": "de", "de": "der", "nl": "het", "it": "il", "fr": "les"}[lang]
    assert terms(f"localized.{lang}.body", stop) == []
