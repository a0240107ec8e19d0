"""Entities of a text in a language other than English: the model's names, no English rules.

In: the text, its language and the model's spans (start, end, label). Out: entities, one per
name, with every mention's offsets and the type most of its mentions have. A country written in
the text's language ("Alemania", "Deutschland", "Duitsland") is named as in English articles
("Germany"), so the facets and country codes agree across languages; other names stay as
written. The English reader's rules (:mod:`.mentions`: re-casing, datelines, job titles, firm
forms, score lines) read English and are not run on other languages; what is merged is what
holds in any language: a surname alone after the full name is the same person.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Iterable, Iterator

import pycountry

from schemas.articles import Entity
from workers.entities import merge
from workers.entities.gazetteer import Aliases, Gazetteer
from workers.entities.labels import LABEL_TYPES, NamedSpan

# Characters a span may carry at its edges that are not part of the name.
_EDGES = " \t\n\"'«»\u201c\u201d\u201e\u2018\u2019()[]{},;:!?\u2013\u2014"  # quotes, dashes


@functools.cache
def country_names(lang: str) -> dict[str, str]:
    """Casefolded country name in ``lang`` (pycountry's ISO 3166 translations) -> the name
    pycountry gives it in English; empty for a language pycountry has no translation for."""
    try:
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
    except OSError:
        return {}
    out: dict[str, str] = {}
    for country in pycountry.countries:
        english = getattr(country, "common_name", None) or country.name
        for attr in ("name", "common_name", "official_name"):
            if value := getattr(country, attr, None):
                out.setdefault(translation.gettext(value).casefold(), english)
    return out


def _cut_at_line_breaks(text: str, ents: Iterable[tuple[int, int, str]]
                        ) -> Iterator[tuple[int, int, str]]:
    """Each span up to its first line break (after any at its start): a name does not run
    from one line (a title, a paragraph's end) into the next line's first word, whatever the
    model's sentence splitter thought."""
    for start, end, label in ents:
        if piece := re.search(r"[^\n]+", text[start:end]):
            yield start + piece.start(), start + piece.end(), label


class PlainReader:
    """Entities from a non-English model's spans, canonical country names from ``aliases``."""

    def __init__(self, aliases: Aliases, gazetteer: Gazetteer) -> None:
        self.aliases = aliases
        self.gazetteer = gazetteer

    def entities(self, text: str, lang: str, ents: Iterable[tuple[int, int, str]]
                 ) -> list[Entity]:
        groups: dict[str, list[NamedSpan]] = {}
        for start, end, label in _cut_at_line_breaks(text, ents):
            type_ = LABEL_TYPES.get(label)
            if type_ is None:
                continue
            while start < end and text[start] in _EDGES:
                start += 1
            while end > start and text[end - 1] in _EDGES:
                end -= 1
            surface = " ".join(text[start:end].split())
            if sum(c.isalpha() for c in surface) < 2:
                continue
            name = surface
            if english := country_names(lang).get(surface.casefold()):
                # The English reader's canonical name for that country ("Russia").
                name = self.aliases.names.get(english.casefold(), english)
                type_ = "location"
            groups.setdefault(name.casefold(), []).append(NamedSpan(start, end, name, type_))
        entities = [merge.entity(mentions) for mentions in groups.values()]
        # A surname alone after the full name is that person ("Sánchez" of "Pedro Sánchez").
        return merge.merge_partial_names(entities, self.gazetteer.is_place)
