"""The model's spans of one text read as the article's entities, by rules over known names.

In: the (re-cased) text and the model's spans as (start, end, spaCy label). Out: the article's
entities, most mentioned first, each with canonical name, type and mention offsets into the
text. Each span is cut, tidied and typed (:meth:`EntityReader.mention`: titles, possessives,
firms' legal forms, a person inside an organisation's span, a place that is a club, a name's
last word), then mentions of one name become one entity (:mod:`workers.entities.merge`).
docs/stages/entities.md gives every rule with its example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from re import Match

from schemas.articles import Entity
from workers.entities import merge
from workers.entities.gazetteer import Aliases, Gazetteer, first_names
from workers.entities.labels import LABEL_TYPES, EntityType, NamedSpan
from workers.entities.lexicon import lexicon
from workers.entities.spans import (
    AND_FIRM,
    FIRM_OF,
    FIRM_TAIL,
    LEGAL_FORM,
    LONE_FIRM_FORM,
    PERSON_OF,
    SENTENCE_END,
    SPAN_BREAK,
    dateline_places,
    firms_joined,
    is_team_in_score_line,
    is_team_mention,
    outside,
    score_lines,
    tidy_span,
)

_NAME_WORD = re.compile(r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*")


class EntityReader:
    """The rules that need known names: the alias file's and the gazetteer's."""

    def __init__(self, aliases: Aliases, gazetteer: Gazetteer) -> None:
        self.aliases = aliases
        self.gazetteer = gazetteer
        self.lexicon = lexicon()

    def entities(self, text: str, ents: Iterable[tuple[int, int, str]]) -> list[Entity]:
        """Entities of ``text`` (the re-cased body: same offsets, names as written) from the
        model's spans ``ents``."""
        groups: dict[str, list[NamedSpan]] = {}
        # Result lines are read by rule, not by the model, which reads their scores into the
        # names there ("Barcelona 3 Real Madrid 1" as one organisation).
        results = score_lines(text)
        spans = [(s, e, "ORG") for teams in results.values() for s, e in teams]
        # A dateline's place is a place, however the model reads it ("Rosemont" as a company);
        # a model span across it keeps its parts outside ("Rotterdam\n" of a headline).
        places = dateline_places(text)
        spans += [(s, e, "GPE") for s, e in places]
        for ent_start, ent_end, ent_label in ents:
            if not any(s < ent_end and ent_start < e for s, e in results):
                parts = outside(ent_start, ent_end, places)
                spans += [(s, e, ent_label) for s, e in parts]
        pieces = []
        for ent_start, ent_end, label in self.split_person_of_place(text, spans):
            # A span across a line break or a spaced dash is cut there: a headline and the
            # dateline under it ("...ROTTERDAM\nROTTERDAM (Reuters)"), or a dateline and the
            # sentence after it ("ABUJA - Nigeria's President"), are not one name.
            start = ent_start
            cuts = [*SPAN_BREAK.finditer(text, ent_start, ent_end)]
            if LABEL_TYPES.get(label) == "organization":
                cuts = sorted([*cuts, *firms_joined(text, ent_start, ent_end)], key=Match.start)
            for cut in [*cuts, None]:
                end = cut.start() if cut else ent_end
                pieces.append((start, end, label))
                start = cut.end() if cut else end
        # A mention may grow ("Merrill Lynch" + " and Co"); a later span loses what it took
        # ("Co. Kestrel", across a full stop, keeps "Kestrel").
        taken = 0
        for start, end, label in sorted(pieces):
            mention = self.mention(text, max(start, taken), end, label) if end > taken else None
            if mention:
                groups.setdefault(mention.name.casefold(), []).append(mention)
                taken = mention.end
        entities = [merge.entity(mentions) for mentions in groups.values()]
        entities = merge.merge_partial_names(entities, self.gazetteer.is_place)
        entities = merge.merge_short_firm_names(entities, self.gazetteer.is_place)
        entities = merge.add_unlabelled_repeats(text, entities)
        for entity in entities:
            if (entity.type == "location" and not self.gazetteer.is_country(entity.name)
                    and any(is_team_mention(text, m.start, m.end) for m in entity.mentions)):
                entity.type = "organization"  # "Liverpool beat Chelsea": the club, throughout
        return sorted(entities, key=lambda e: (-e.count, e.mentions[0].start))

    def split_person_of_place(
        self, text: str, spans: list[tuple[int, int, str]]
    ) -> Iterator[tuple[int, int, str]]:
        """"Aryna Sabalenka of Belarus", one PERSON span to the model, is a person and a place
        when a full name (two words or more, no title: not "Prince of Wales") comes before
        "of" and a place the gazetteer knows after it. So is "Fashionport Private Ltd of
        India", an ORG span, a firm (its legal form before "of") and a place."""
        for start, end, label in spans:
            pattern = {"PERSON": PERSON_OF, "ORG": FIRM_OF}.get(label)
            m = pattern.fullmatch(text, start, end) if pattern else None
            if (m and len(m["person"].split()) >= 2 and not self.lexicon.titles.match(m["person"])
                    and self.gazetteer.is_place(m["place"])):
                yield m.start("person"), m.end("person"), label
                yield m.start("place"), m.end("place"), "GPE"
            else:
                yield start, end, label

    def mention(self, text: str, start: int, end: int, label: str) -> NamedSpan | None:
        type_ = LABEL_TYPES.get(label)
        if type_ is None:
            return None
        # A surface the alias file knows is taken as it is ("The Hague" keeps its "The").
        if " ".join(text[start:end].split()).casefold() not in self.aliases.names:
            start, end = tidy_span(text, start, end, type_)
        # A person inside an organisation's span: "Taylor Dent", "... Adviser Qasim al-Araji".
        person = self.person_in(text, start, end) if type_ == "organization" else None
        if person is None and type_ != "person":
            person = self.person_after_title(text, start, end)
        if person is not None:
            start, type_ = person, "person"
        if start == end or "\n" in text[start:end]:
            return None
        if not any(c.isupper() for c in text[start:end]):
            return None  # no capital, no proper name: "trillions of naira", "the euro"
        if sum(c.isalpha() for c in text[start:end]) < 2 or LONE_FIRM_FORM.fullmatch(
                text, start, end):
            return None  # "M-3", a money supply; "Inc" cut off its company
        if type_ != "person" and self.lexicon.title_suffix.match(text, end):
            return None  # "National Security" of "National Security Adviser"
        end, type_ = self.firm_extent(text, start, end, type_)
        surface = " ".join(text[start:end].split())
        if type_ == "organization" and surface.casefold() not in self.aliases.names:
            surface = LEGAL_FORM.sub("", surface) if " " in surface else surface
        if surface.casefold() in self.aliases.not_names:
            return None  # "GMT"
        name = self.aliases.names.get(surface.casefold(), surface)
        head = self.lexicon.head_types.get(name.split()[-1]) if " " in name else None
        if name in self.aliases.types:
            type_ = self.aliases.types[name]
        elif (type_ in ("organization", "misc") and " " in name and not head
                and not LEGAL_FORM.search(text, start, end)
                and self.lexicon.role_after.match(text, end)):
            type_ = "person"  # "Rimmer de Vries, senior vice president of Morgan Guaranty"
        elif is_team_in_score_line(text, start, end):
            # A country's team is its country, as newsrooms (and CoNLL) file it; a club named
            # after its city is an organisation.
            type_ = "location" if self.gazetteer.is_country(name) else "organization"
        elif self.gazetteer.demonym(name) and not self.gazetteer.is_country(name):
            # "Ukrainian", "Thai": a nationality, even where a town has the name ("Laos" is a
            # country, though "Lao" is a nationality and plurals are looked up too).
            type_ = "misc"
        elif type_ != "location" and self.gazetteer.is_place(name):
            type_ = "location"
        elif head and not self.gazetteer.is_place(name):
            # "Kenya Railways", "Murdoch Publishing", "Rhone Glacier": the last word tells.
            type_ = head
        return NamedSpan(start, end, name, type_)

    def person_in(self, text: str, start: int, end: int) -> int | None:
        """Where a person's name starts in an ORG span that is one ("Taylor Dent", "Frenchman
        Cyril Saulnier"): two or three capitalised words after any title or nationality, a
        census given name first and none last ("Morgan Stanley" stays a firm), no head word,
        firm's form or "and", not a name the alias file or the gazetteer knows."""
        if m := self.lexicon.person_prefix.match(text, start, end):
            start = m.end()
        words = text[start:end].split()
        surface = " ".join(words)
        if not (2 <= len(words) <= 3 and all(_NAME_WORD.fullmatch(w) for w in words)):
            return None
        given = first_names()
        if (words[0].upper() not in given or words[-1].upper() in given
                or words[-1] in self.lexicon.head_types or surface.casefold() in self.aliases.names
                or surface in self.aliases.types or self.gazetteer.is_place(surface)):
            return None
        return start

    def person_after_title(self, text: str, start: int, end: int) -> int | None:
        """Where the name starts in a non-person span that ends in a job title and a name
        ("National Security Adviser Qasim al-Araji"), unless that name is a known place or
        organisation ("Secretary of State Washington" is not a person)."""
        m = self.lexicon.name_after_title.fullmatch(text, start, end)
        if m is None:
            return None
        name = " ".join(m["name"].split())
        if (name.casefold() in self.aliases.names or name in self.aliases.types
                or self.gazetteer.is_place(name) or name.split()[-1] in self.lexicon.head_types
                or LEGAL_FORM.search(name)):
            return None
        return m.start("name")

    def firm_extent(
        self, text: str, start: int, end: int, type_: EntityType
    ) -> tuple[int, EntityType]:
        """A company's whole name and type: the model stops short of "and Co Inc" and of a
        capitalised organisation word ("Kelley" of "Kelley Oil"), and calls some firms
        people. A known place is left alone ("Iran" before "Oil" in a headline)."""
        if type_ not in ("person", "organization") or self.gazetteer.is_place(text[start:end]):
            return end, type_
        grown = end
        if m := self.lexicon.org_head_tail.match(text, grown):
            grown = m.end()
        if m := AND_FIRM.match(text, grown):
            grown = m.end()
        if m := FIRM_TAIL.match(text, grown):
            grown = m.end()
        if grown == end and not LEGAL_FORM.search(text, start, end):
            return end, type_
        if text[grown - 1] == "." and SENTENCE_END.match(text, grown):
            grown -= 1  # "... Orange-Co Inc." ending its sentence: the full stop is not the name's
        return grown, "organization"
