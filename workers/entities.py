"""entities stage: DedupedArticle (news.deduped) -> EnrichedArticle (news.enriched).

spaCy named-entity recognition over each article's ``body`` (the title is not analysed: its
names recur in the body, and mention offsets are offsets into ``body``, ``body[start:end]``).

1. Labels kept: PERSON -> person; ORG -> organization; GPE, LOC, FAC -> location; NORP, EVENT,
   LAW, PRODUCT, WORK_OF_ART -> misc. Numbers, dates, times, money, languages are dropped.
2. Each mention is tidied, and its offsets with it: a leading "the", a person's titles
   ("President", "Dr."), a trailing possessive ("'s"); unless the alias file knows the whole
   surface ("The Hague"). Spans across a line break are dropped.
3. Canonical names: ``data/entity_aliases.json`` maps variant spellings to one name
   ("Turkey" -> "Türkiye", "Daesh" -> "ISIS", "U.S." -> "United States") and may fix the type.
4. Mentions of one entity are merged: same canonical name (case-insensitive; the type is the
   most frequent label), then a partial name ("Assad", "Al-Araji") onto the one full person
   name of the article that contains it ("Bashar Assad", "Qasim al-Araji"). Locations are never
   merged onto persons, and a partial matching two full names stays on its own.
5. Facets: ``persons``/``organizations``/``locations`` list canonical names, most mentioned
   first; ``countries`` the ISO 3166-1 alpha-2 codes of locations that are countries (alias
   file first, then an exact pycountry name lookup; no fuzzy search, which maps cities and
   regions to countries: "Gaza" -> Mozambique, "Niger" -> Nigeria).

Not run (article passed through, no entities, ``entities_skipped`` says why): ``disabled``
when ``settings.entities_enabled`` is false; ``no-model:<lang>`` when the article's language is
known and is not the model's. An article of unknown language is analysed.

Skips: none. Fails: an exception fails the batch; the runtime then re-runs its articles one by
one, so only the article that breaks spaCy is dead-lettered.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pycountry
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from newsflow.config import Settings
from schemas.articles import DedupedArticle, EnrichedArticle, Entity, Mention
from workers.stage import Emit, Outcome, StageContext

NAME = "entities"
VERSION = "1.0.0"

ALIASES_FILE = Path(__file__).parent / "data" / "entity_aliases.json"
# Text past this point is not analysed (offsets stay valid: it is a prefix of the body); news
# articles are far shorter, and spaCy refuses texts over 1M characters.
MAX_NER_CHARS = 200_000

EntityType = Literal["person", "organization", "location", "misc"]

LABEL_TYPES: dict[str, EntityType] = {
    "PERSON": "person",
    "ORG": "organization",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "NORP": "misc",
    "EVENT": "misc",
    "LAW": "misc",
    "PRODUCT": "misc",
    "WORK_OF_ART": "misc",
}

# Pipeline components NER does not need (spaCy ignores names a model does not have).
_NOT_FOR_NER = [
    "tagger",
    "morphologizer",
    "parser",
    "senter",
    "attribute_ruler",
    "lemmatizer",
    "trainable_lemmatizer",
]

_LEADING_THE = re.compile(r"the\s+", re.IGNORECASE)
_TITLES = re.compile(
    r"(?:(?:President|Vice[- ]President|Prime Minister|Minister|Chancellor|Mr|Mrs|Ms|Miss|Dr"
    r"|Prof|Professor|Sir|Dame|Gen|General|Lt|Col|Colonel|Maj|Major|Capt|Captain|Sgt|Adm"
    r"|Admiral|Sen|Senator|Rep|Gov|Governor|Mayor|Judge|Justice|Rev|Sheikh)\.?\s+)+",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"['\u2019]s?$")  # straight or curly apostrophe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Aliases:
    names: dict[str, str]  # casefolded surface -> canonical name
    types: dict[str, EntityType]  # canonical name -> forced type
    country_codes: dict[str, str]  # canonical name -> ISO alpha-2

    @classmethod
    def load(cls, path: Path = ALIASES_FILE) -> Aliases:
        data = json.loads(path.read_text(encoding="utf-8"))
        if bad := set(data["types"].values()) - set(LABEL_TYPES.values()):
            raise ValueError(f"{path}: unknown entity types {sorted(bad)}")
        return cls(
            names={k.casefold(): v for k, v in data["names"].items()},
            types=data["types"],
            country_codes=data["country_codes"],
        )


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    name: str  # canonical
    type: EntityType


def load_ner(model: str) -> Language:
    """The model with NER and what NER listens to (a shared tok2vec/transformer), nothing else."""
    nlp = spacy.load(model, exclude=_NOT_FOR_NER)
    for pipe_name, pipe in list(nlp.pipeline):
        # en_core_web_sm's NER embeds its own tok2vec; larger pipelines may share one.
        if pipe_name != "ner" and "ner" not in getattr(pipe, "listening_components", []):
            nlp.remove_pipe(pipe_name)
    return nlp


def tidy_span(text: str, start: int, end: int, type_: EntityType) -> tuple[int, int]:
    """Narrow ``text[start:end]`` to the name itself: no "the", titles or possessive."""
    if m := _LEADING_THE.match(text, start, end):
        start = m.end()
    if type_ == "person" and (m := _TITLES.match(text, start, end)):
        start = m.end()
    if m := _POSSESSIVE.search(text, start, end):
        end = m.start()
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@functools.cache
def pycountry_code(name: str) -> str | None:
    """Alpha-2 code of the country *named* ``name``; a code ("CAN", "IT") is not a name."""
    try:
        country = pycountry.countries.lookup(name)
    except LookupError:
        return None
    names = {getattr(country, a, "").casefold() for a in ("name", "official_name", "common_name")}
    return str(country.alpha_2) if name.casefold() in names else None


def _is_part(short: str, full: str) -> bool:
    """``short``'s words are a contiguous, shorter run of ``full``'s (case-insensitive)."""
    s, f = short.casefold().split(), full.casefold().split()
    return len(s) < len(f) and any(f[i : i + len(s)] == s for i in range(len(f) - len(s) + 1))


class EntitiesStage:
    name = NAME
    version = VERSION

    def __init__(self, nlp: Language | None, aliases: Aliases) -> None:
        self.nlp = nlp  # None: entities disabled
        self.aliases = aliases
        self.model = f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}" if nlp else None

    def process(self, batch: Sequence[DedupedArticle]) -> list[Outcome]:
        reasons = [self.skip_reason(article) for article in batch]
        todo = [a.body[:MAX_NER_CHARS] for a, why in zip(batch, reasons, strict=True) if not why]
        docs = iter(self.nlp.pipe(todo) if self.nlp and todo else [])
        outcomes: list[Outcome] = []
        for article, why in zip(batch, reasons, strict=True):
            if why:
                outcomes.append(Emit(self.enriched(article, [], skipped=why)))
            else:
                outcomes.append(Emit(self.enriched(article, self.entities(next(docs)))))
        return outcomes

    def skip_reason(self, article: DedupedArticle) -> str | None:
        if self.nlp is None:
            return "disabled"
        if article.language and article.language != self.nlp.lang:
            return f"no-model:{article.language}"
        return None

    # --- from spaCy spans to entities ---------------------------------------------------

    def entities(self, doc: Doc) -> list[Entity]:
        groups: dict[str, list[_Mention]] = {}
        for ent in doc.ents:
            mention = self.mention(doc.text, ent.start_char, ent.end_char, ent.label_)
            if mention:
                groups.setdefault(mention.name.casefold(), []).append(mention)
        entities = [self.entity(mentions) for mentions in groups.values()]
        entities = self.merge_partial_names(entities)
        return sorted(entities, key=lambda e: (-e.count, e.mentions[0].start))

    def mention(self, text: str, start: int, end: int, label: str) -> _Mention | None:
        type_ = LABEL_TYPES.get(label)
        if type_ is None:
            return None
        # A surface the alias file knows is taken as it is ("The Hague" keeps its "The").
        if " ".join(text[start:end].split()).casefold() not in self.aliases.names:
            start, end = tidy_span(text, start, end, type_)
        if start == end or "\n" in text[start:end]:
            return None
        surface = " ".join(text[start:end].split())
        name = self.aliases.names.get(surface.casefold(), surface)
        return _Mention(start, end, name, self.aliases.types.get(name, type_))

    @staticmethod
    def entity(mentions: list[_Mention]) -> Entity:
        """One entity from mentions of one canonical name: its commonest spelling and type."""
        name = Counter(m.name for m in mentions).most_common(1)[0][0]
        type_ = Counter(m.type for m in mentions).most_common(1)[0][0]
        spans = sorted((m.start, m.end) for m in mentions)
        return Entity(
            name=name,
            type=type_,
            mentions=[Mention(start=s, end=e) for s, e in spans],
            count=len(spans),
        )

    @staticmethod
    def merge_partial_names(entities: list[Entity]) -> list[Entity]:
        """Merge "Assad" into "Bashar Assad" when exactly one full person name contains it."""
        persons = [e for e in entities if e.type == "person" and len(e.name.split()) > 1]
        # Only the longest forms are targets, so "Assad" is not torn between two of them.
        full = [p for p in persons if not any(_is_part(p.name, o.name) for o in persons)]
        # Names are unique per article (entities were grouped by canonical name).
        targets = {f.name: f.model_copy(deep=True) for f in full}
        kept: list[Entity] = []
        for entity in entities:
            if entity.name in targets:
                kept.append(targets[entity.name])
                continue
            into = [t for t in targets.values() if _is_part(entity.name, t.name)]
            if entity.type != "location" and len(into) == 1:
                into[0].mentions = sorted(into[0].mentions + entity.mentions, key=lambda m: m.start)
                into[0].count = len(into[0].mentions)
            else:
                kept.append(entity)
        return kept

    # --- output -------------------------------------------------------------------------

    def enriched(
        self, article: DedupedArticle, entities: list[Entity], skipped: str | None = None
    ) -> EnrichedArticle:
        def names(type_: EntityType) -> list[str]:
            return [e.name for e in entities if e.type == type_]

        locations = names("location")
        countries = [code for code in map(self.country_code, locations) if code]
        return EnrichedArticle(
            **article.model_dump(exclude={"versions"}),
            versions={**article.versions, NAME: VERSION},
            entities=entities,
            persons=names("person"),
            organizations=names("organization"),
            locations=locations,
            countries=list(dict.fromkeys(countries)),
            entities_model=None if skipped else self.model,
            entities_skipped=skipped,
        )

    def country_code(self, name: str) -> str | None:
        return self.aliases.country_codes.get(name) or pycountry_code(name)

    def close(self) -> None:
        self.nlp = None


def build(settings: Settings, context: StageContext) -> EntitiesStage:
    nlp = load_ner(settings.spacy_model) if settings.entities_enabled else None
    return EntitiesStage(nlp, Aliases.load())
