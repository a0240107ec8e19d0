"""Mention rules: canonical names and types, persons inside organisation spans, firms, sport."""

from __future__ import annotations

import pytest

from tests.unit.workers.entities.helpers import (
    deduped,
    enriched,
    surfaces,
)
from workers.entities.labels import EntityType, NamedSpan
from workers.entities.stage import EntitiesStage


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
    mention = stage.reader.mention(text, start, start + len(span), "ORG")
    assert mention is not None
    assert (text[mention.start : mention.end].removesuffix(" Corp").removesuffix(" Inc"),
            mention.type) == expected


def test_a_person_of_a_place_is_a_person_and_a_place(stage: EntitiesStage) -> None:
    text = ("Aryna Sabalenka of Belarus won. Jane Smith of Wellington Street spoke. "
            "The Prince of Wales came.")
    spans = [
        (0, len("Aryna Sabalenka of Belarus"), "PERSON"),
        (text.index("Jane"), text.index(" spoke"), "PERSON"),  # not a place: left as it is
        (text.index("Prince"), text.index(" came"), "PERSON"),  # a title, not a name
    ]
    split = list(stage.reader.split_person_of_place(text, spans))
    assert [(text[s:e], label) for s, e, label in split] == [
        ("Aryna Sabalenka", "PERSON"), ("Belarus", "GPE"),
        ("Jane Smith of Wellington Street", "PERSON"), ("Prince of Wales", "PERSON")]


def test_a_place_the_model_calls_misc_is_a_location(stage: EntitiesStage) -> None:
    # The small model tags lone city names as NORP or PRODUCT now and then.
    mention = stage.reader.mention("Grenoble", 0, len("Grenoble"), "NORP")
    assert mention is not None and (mention.name, mention.type) == ("Grenoble", "location")
    mention = stage.reader.mention("Israeli", 0, len("Israeli"), "NORP")  # a nationality stays misc
    assert mention is not None and mention.type == "misc"


@pytest.mark.parametrize(("word", "label"), [("Ukrainian", "GPE"), ("Thai", "NORP")])
def test_a_nationality_is_misc_whatever_the_model_or_a_town_says(
    stage: EntitiesStage, word: str, label: str
) -> None:
    # "Thai" is also a GeoNames town name: the nationality reading wins.
    mention = stage.reader.mention(word, 0, len(word), label)
    assert mention is not None and mention.type == "misc"


def test_a_country_named_like_a_plural_nationality_stays_a_country(stage: EntitiesStage) -> None:
    mention = stage.reader.mention("Laos", 0, len("Laos"), "GPE")  # "Lao" + s
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
    mention = stage.reader.mention(text, start, start + len(name), "GPE")
    assert mention is not None and (mention.name, mention.type) == (name, expected)


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
    mention = stage.reader.mention(text, 0, end, label)
    if expected is None:
        assert mention is None
    else:
        assert mention is not None
        assert (text[mention.start : mention.end], mention.name, mention.type) == expected


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
    assert stage.reader.mention("Taylor Dent won.", 0, 11, "ORG") == NamedSpan(
        0, 11, "Taylor Dent", "person")


def test_firms_named_after_people_stay_firms(stage: EntitiesStage) -> None:
    body = "Dillon Read and Morgan Stanley led the offer, Moody's said."
    article = enriched(stage.process([deduped(body, text_hash="eponymous")])[0])
    assert article.persons == []
    assert {"Dillon Read", "Morgan Stanley", "Moody's"} <= set(article.organizations)


def test_time_zones_are_no_names(stage: EntitiesStage) -> None:
    body = "Kick-off at Anfield is at 1945 GMT, the Premiership said, and trading ends at 1600 EST."
    article = enriched(stage.process([deduped(body, text_hash="zones")])[0])
    names = {e.name: e.type for e in article.entities}
    assert not {"GMT", "EST"} & names.keys()
    assert names.get("Premiership") in (None, "misc")
