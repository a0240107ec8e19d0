"""Merging mentions into entities: partial names, short firm names, unlabelled repeats."""

from __future__ import annotations

import re

import pytest

from schemas.articles import Mention
from tests.unit.workers.entities.helpers import (
    entity,
)
from workers.entities.merge import add_unlabelled_repeats, merge_partial_names, whole_word_repeats


def test_partial_names_merge_onto_the_one_full_name() -> None:
    merged = merge_partial_names(
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
    merged = merge_partial_names(entities)
    assert [e.name for e in merged] == [e.name for e in entities]


def test_a_surname_the_model_called_a_place_merges_onto_its_person() -> None:
    gazetteer_knows = {"Washington"}.__contains__
    merged = merge_partial_names(
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


def test_unlabelled_repeats_are_added() -> None:
    text = (
        "Mikel Arteta praised Maersk. Arteta said Maersk Line and Maersk would talk.\n"
        "Paris Saint-Germain lost; ARTETA and arteta are other words."
    )
    people = entity("Mikel Arteta", "person", 0)
    maersk = entity("Maersk", "organization", 21)
    paris = entity("Paris", "location", 500)  # its one mention is elsewhere
    paris.mentions = [Mention(start=200, end=205)]
    out = add_unlabelled_repeats(text, [people, maersk, paris])
    found = {e.name: [text[m.start : m.end] for m in e.mentions if m.end <= len(text)] for e in out}
    assert found["Mikel Arteta"] == ["Mikel Arteta", "Arteta"]  # the surname refers back
    # Whole words in the same case, not followed by another name ("Maersk Line").
    assert found["Maersk"] == ["Maersk", "Maersk"]
    assert found["Paris"] == []  # "Paris Saint-Germain" is another name
    assert [e.count for e in out] == [2, 2, 1]


def test_a_longer_repeat_claims_its_place_before_a_shorter_one_whatever_the_hash_seed() -> None:
    # "Vanity Fair" (a title) and "Fair" (a person's surname) both repeat at one place; the
    # longer name wins, every time (the order was a set's, so it changed with PYTHONHASHSEED).
    text = "Vanity Fair hired Tom Fair. Later, Vanity Fair grew."
    magazine = entity("Vanity Fair", "organization", 0)
    person = entity("Tom Fair", "person", 18)
    out = add_unlabelled_repeats(text, [person, magazine])  # the person first: "Fair" first
    found = {e.name: [text[m.start : m.end] for m in e.mentions] for e in out}
    assert found == {"Tom Fair": ["Tom Fair"], "Vanity Fair": ["Vanity Fair", "Vanity Fair"]}


@pytest.mark.parametrize("form", ["Arteta", "Maersk", "Saint-Germain", "Ré", "U.S."])
def test_whole_word_repeats_match_what_a_regex_finds(form: str) -> None:
    text = (
        "Arteta, Arteta-Smith, Arteta_x, xArteta, ArtetaArteta Arteta Line. Maersk\nMaersk "
        "Maersk-Line Maersk. Paris Saint-Germain; Saint-Germain. Ré, Ré Rémi U.S. U.S.A. "
        "U.S. Steel the U.S.\n"
    )
    regex = rf"(?<![\w\-]){re.escape(form)}(?![\w\-])(?!\s+[A-Z])"
    expected = [m.start() for m in re.finditer(regex, text)]
    assert list(whole_word_repeats(text, form)) == expected
    assert expected  # each form does occur as a whole word
