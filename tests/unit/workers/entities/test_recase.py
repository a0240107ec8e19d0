"""Layout and casing before the model: wrapped lines joined, ALL-CAPS re-cased, offsets kept."""

from __future__ import annotations

from tests.unit.workers.entities.helpers import (
    by_name,
    deduped,
    enriched,
    surfaces,
)
from workers.entities.recase import unwrap
from workers.entities.stage import EntitiesStage


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
    joined = unwrap(WRAPPED)
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
