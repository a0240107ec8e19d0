"""The word lists of ``workers/data`` and the patterns made from them, built once, on first use.

In: ``titles.json`` (titles, suffixes, roles), ``demonyms.json`` and ``name_heads.json``. Out:
a :class:`Lexicon` of compiled patterns and tables that the span and mention rules read.
Compiled when the stage is built (``build`` asks for it), not at import: importing the package
stays cheap, and a broken data file fails the build with its path.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.entities.labels import EntityType

DATA = Path(__file__).resolve().parent.parent / "data"
ALIASES_FILE = DATA / "entity_aliases.json"
TITLES_FILE = DATA / "titles.json"
DEMONYMS_FILE = DATA / "demonyms.json"
HEADS_FILE = DATA / "name_heads.json"

# A name after a job title: one to three capitalised words, "al-"/"van"-style particles allowed.
_NAME_PART = r"(?:[a-z]{1,3}-)?[A-Z][^\W\d_]*(?:[-'][A-Za-z][^\W\d_]*)*"
_PARTICLE = r"(?:al|el|bin|ibn|de|da|di|du|van|von|der|den|le|la)"


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def titles_pattern(titles: Iterable[str]) -> re.Pattern[str]:
    """Any run of ``titles`` (each with an optional dot) and the space after them."""
    # Longest first, so "Prime Minister" wins over "Minister"; spaces match any whitespace.
    alts = sorted((re.escape(t).replace(r"\ ", r"\s+") for t in titles), key=len, reverse=True)
    return re.compile(rf"(?:(?:{'|'.join(alts)})\.?\s+)+", re.IGNORECASE)


@dataclass(frozen=True)
class Lexicon:
    titles: re.Pattern[str]  # "President", "Dr." before a name
    # What may stand before a person's name in a mention: titles and nationalities
    # ("Frenchman Cyril Saulnier", "American Dent").
    person_prefix: re.Pattern[str]
    title_suffix: re.Pattern[str]  # " Adviser" after "National Security"
    # A job title and a name after it in one organisation or place span: "National Security
    # Adviser Qasim al-Araji" (CoreNLP's CoNLL model reads all of it as an organisation).
    # Something comes before the title (a span that starts with one is person_in's: "General
    # Motors").
    name_after_title: re.Pattern[str]
    head_types: dict[str, EntityType]  # a name's last word -> its type ("Railways", "Glacier")
    org_head_tail: re.Pattern[str]  # capitalised organisation words after a mention: " Oil"
    # A job in apposition after a name: "Rimmer de Vries, senior vice president of ...".
    role_after: re.Pattern[str]
    demonyms: dict[str, str]  # nationality -> ISO alpha-2 ("Israeli" -> "IL")


@functools.cache
def lexicon() -> Lexicon:
    """The one Lexicon of the process, read from ``workers/data`` the first time it is asked for."""
    title_data = load_json(TITLES_FILE)
    demonyms = {k: v for k, v in load_json(DEMONYMS_FILE).items() if not k.startswith("_")}
    titles_and_suffixes = title_data["titles"] + title_data["suffixes"]
    title_words = sorted(
        (re.escape(t).replace(r"\ ", r"\s+") for t in titles_and_suffixes), key=len, reverse=True
    )
    heads = load_json(HEADS_FILE)
    return Lexicon(
        titles=titles_pattern(title_data["titles"]),
        person_prefix=titles_pattern([*title_data["titles"], *demonyms]),
        title_suffix=re.compile(rf"\s+(?:{'|'.join(title_data['suffixes'])})\b"),
        name_after_title=re.compile(
            rf".*\s(?i:{'|'.join(title_words)})\.?\s+"
            rf"(?P<name>{_NAME_PART}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_PART}){{0,2}})",
            re.S,
        ),
        head_types={
            word: type_ for type_ in ("organization", "location", "misc") for word in heads[type_]
        } | {word: "organization" for word in heads["team"]},
        org_head_tail=re.compile(rf"(?:[ \t]+(?:{'|'.join(heads['organization'])})\b)+"),
        role_after=re.compile(
            rf"\s?,\s+(?:(?:a|an|the|its|their)\s+)?(?:[a-z]+\s+){{0,2}}"
            rf"(?:{'|'.join(title_data['roles'])})\b"
        ),
        demonyms=demonyms,
    )
