"""Span rules over the text: cuts, tidying, firms joined by "and", result lines, datelines."""

from __future__ import annotations

import pytest

from tests.unit.workers.entities.helpers import (
    by_name,
    deduped,
    enriched,
)
from workers.entities.labels import EntityType
from workers.entities.recase import unwrap
from workers.entities.spans import firms_joined, tidy_span
from workers.entities.stage import EntitiesStage


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
    for m in [*firms_joined(text, start, end), None]:
        pieces.append(text[at : m.start() if m else end])
        at = m.end() if m else end
    assert pieces == firms


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


def test_an_abbreviation_keeps_the_last_dot_the_model_left_out() -> None:
    text = "Grain left Odesa under a U.N. deal."
    start = text.index("U.N")
    assert text[slice(*tidy_span(text, start, start + len("U.N"), "organization"))] == "U.N."
    text = "It is the end."  # an ordinary word before a full stop keeps it out
    start = text.index("end")
    assert text[slice(*tidy_span(text, start, start + 3, "misc"))] == "end"


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


def test_result_lines_are_read_by_rule_not_by_the_model(stage: EntitiesStage) -> None:
    # The model reads scores into names ("Barcelona 3 Real Madrid 1" as one organisation).
    body = ("Results of Spanish first division matches on Sunday:\n"
            "Barcelona 3 Real Madrid 1\nValencia 0 Sevilla 2\nJapan 2 Syria 1")
    article = enriched(stage.process([deduped(body)])[0])
    assert {"Barcelona", "Real Madrid", "Valencia", "Sevilla"} <= set(article.organizations)
    assert {"Japan", "Syria"} <= set(article.locations)
    assert not any(ch.isdigit() for e in article.entities for ch in e.name)


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
    assert unwrap(TOKENISED) == TOKENISED
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
