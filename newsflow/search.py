"""Faceted full-text search over the ``news`` alias: the Python API behind ``newsflow search``.

    from newsflow.search import Filters, search
    result = search(es, "news", '"port strike" Rotterdam',
                    filters=Filters(country="NL", since=date(2024, 1, 1)), collapse=True)

The query is Elasticsearch's ``simple_query_string`` (AND by default; ``"quoted phrases"``
match the unstemmed ``.exact`` subfields, ``-word`` excludes, ``a | b`` is OR) over the title
(boosted), the body and the names of the article's entities. The title and body are read with
the analyser of the language filtered on (``Filters.language``: English's for "en", the
``localized.<lang>`` fields of news-v3 for French, German, Spanish, Dutch and Italian), or with
all of them when no language is given, so "huelgas" finds "huelga". Entity names in the query are
mapped through the entities stage's alias table (``workers/data/entity_aliases.json``), so
"Türkiye" also finds articles that say "Turkey" and whose canonical location is Türkiye.

Facets: the top values of source, language, countries, persons, organizations, locations,
and a timeline of ``published_at``. ``collapse=True`` shows each story (``story_id``, stories
merged into another counted with it: :mod:`newsflow.stories`) once, with how many articles and
outlets ran it, in which languages, and when it was first seen.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry
from elasticsearch import Elasticsearch

import workers
from schemas.articles import LOCALIZED_LANGUAGES

log = logging.getLogger(__name__)

FACETS = ("source", "language", "countries", "persons", "organizations", "locations",
          "story_id")
ENTITY_FIELDS = ("persons", "organizations", "locations")
ENTITY_TEXT_FIELDS = ("persons.text^2", "organizations.text^2", "locations.text^2")
TEXT_FIELDS = ("title^3", "body", *ENTITY_TEXT_FIELDS)

# The entities stage's table (not imported from workers.entities: that would load spaCy).
ALIASES_FILE = Path(workers.__file__).parent / "data" / "entity_aliases.json"

_HIGHLIGHT = {"pre_tags": ["<em>"], "post_tags": ["</em>"]}


def text_fields(language: str | None) -> list[str]:
    """The fields a query's words are matched in: English's analysis (``title``, ``body``), a
    localized language's own, or, with no language given, every one of them."""
    lang = language.lower() if language else None
    if lang in LOCALIZED_LANGUAGES:
        return [f"localized.{lang}.title^3", f"localized.{lang}.body", *ENTITY_TEXT_FIELDS]
    if lang is None:
        return [*TEXT_FIELDS, *(f"localized.{code}.{part}" for code in LOCALIZED_LANGUAGES
                                for part in ("title^3", "body"))]
    return list(TEXT_FIELDS)


@dataclass(frozen=True)
class Filters:
    """Exact filters; every one given must hold. Entity and country names may be aliases."""

    source: str | None = None
    language: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 code or a country name
    entity: str | None = None  # a person, organisation or location (any of the three)
    person: str | None = None
    organization: str | None = None
    location: str | None = None
    since: date | datetime | None = None  # published_at >= since
    until: date | datetime | None = None  # published_at <= until (a date: the whole day)


@dataclass
class Hit:
    id: str
    score: float | None
    title: str | None
    source: str | None
    published_at: str | None
    url: str | None
    snippet: str | None  # highlighted with <em>…</em>, or the start of the body
    cluster_id: str | None = None
    story_id: str | None = None
    language: str | None = None
    countries: list[str] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    # With collapse: the story's size over the whole index (not only this query's matches).
    story_articles: int | None = None
    story_outlet_count: int | None = None
    story_outlets: list[str] | None = None  # the ten biggest
    story_languages: list[str] | None = None
    story_first_seen: str | None = None


@dataclass
class SearchResult:
    total: int  # matching articles
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    timeline: list[tuple[str, int]] = field(default_factory=list)  # (bucket start, articles)
    timeline_interval: str | None = None
    stories: int | None = None  # distinct stories among the matches
    page: int = 1
    size: int = 10
    collapsed: bool = False
    query: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


# --- entity aliases ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _alias_table() -> tuple[dict[str, str], dict[str, list[str]]]:
    """(surface form -> canonical, canonical -> every spelling) from the entities stage."""
    data = json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    names: dict[str, str] = dict(data.get("names", {}))
    spellings: dict[str, list[str]] = {}
    for surface, canonical in names.items():
        spellings.setdefault(canonical, [canonical])
        if surface not in spellings[canonical]:
            spellings[canonical].append(surface)
    return names, spellings


def canonical_entity(name: str) -> str:
    """The canonical spelling of an entity name, as the entities stage stores it."""
    names, _ = _alias_table()
    folded = {k.casefold(): v for k, v in names.items()}
    return names.get(name) or folded.get(name.casefold()) or name


def _is_acronym(surface: str) -> bool:
    # "US", "IS", "UN": matched only in capitals, else "is" and "us" in a query would expand.
    return surface.replace(".", "").isupper()


@lru_cache(maxsize=1)
def _alias_pattern() -> re.Pattern[str]:
    names, spellings = _alias_table()
    forms = set(names) | set(spellings)
    # Longest first, so "Republic of Türkiye" wins over "Türkiye".
    parts = []
    for form in sorted(forms, key=len, reverse=True):
        escaped = re.escape(form)
        parts.append(escaped if _is_acronym(form) else f"(?i:{escaped})")
    return re.compile(r"(?<![\w.])(" + "|".join(parts) + r")(?![\w])")


def expand_aliases(query: str) -> tuple[str, list[str]]:
    """Rewrite entity names outside quotes as an OR of all their spellings.

    Returns the ``simple_query_string`` text and the canonical entities found. Quoted phrases
    are left alone: a quote asks for those exact words.
    """
    names, spellings = _alias_table()
    folded = {k.casefold(): v for k, v in names.items()}
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        surface = match.group(1)
        canonical = names.get(surface) or folded.get(surface.casefold()) or surface
        if canonical not in spellings:
            return surface
        if canonical not in found:
            found.append(canonical)
        # Other two-letter acronyms ("US", "UN") are left out: lower-cased in the text they
        # are ordinary words ("us"); the entity fields still match the canonical name.
        forms = [s for s in spellings[canonical]
                 if s == surface or not (_is_acronym(s) and len(s.replace(".", "")) <= 2)]
        alternatives = [f'"{s}"' if re.search(r"\W", s) else s for s in forms]
        return "(" + " | ".join(alternatives) + ")"

    pieces = re.split(r'("[^"]*")', query)  # odd positions: quoted phrases
    out = [p if i % 2 else _alias_pattern().sub(replace, p) for i, p in enumerate(pieces)]
    return "".join(out), found


def country_code(value: str) -> str:
    """ISO 3166 alpha-2 code of a code or name ("tr", "Turkey", "Türkiye" -> "TR")."""
    if len(value) == 2 and value.isalpha():
        return value.upper()
    data = json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    canonical = canonical_entity(value)
    if canonical in data.get("country_codes", {}):
        return str(data["country_codes"][canonical])
    try:
        return str(pycountry.countries.lookup(canonical).alpha_2)
    except LookupError:
        return value.upper()


# --- query building ------------------------------------------------------------------------


def _entity_filter(fields: Iterable[str], name: str) -> dict[str, Any]:
    canonical = canonical_entity(name)
    should: list[dict[str, Any]] = []
    for f in fields:
        # The keyword itself (any mapping version) and, from v2, its case/accent-folded copy.
        should.append({"term": {f: canonical}})
        should.append({"term": {f"{f}.folded": canonical.casefold()}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _date(value: date | datetime, end_of_day: bool) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return f"{value.isoformat()}||/d" if end_of_day else value.isoformat()


def build_filters(filters: Filters) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if filters.source:
        clauses.append({"bool": {"should": [
            {"term": {"source": filters.source}},
            {"term": {"source.folded": filters.source.casefold()}},
        ], "minimum_should_match": 1}})
    if filters.language:
        clauses.append({"term": {"language": filters.language.lower()}})
    if filters.country:
        clauses.append({"term": {"countries": country_code(filters.country)}})
    if filters.entity:
        clauses.append(_entity_filter(ENTITY_FIELDS, filters.entity))
    for name, value in (("persons", filters.person), ("organizations", filters.organization),
                        ("locations", filters.location)):
        if value:
            clauses.append(_entity_filter([name], value))
    if filters.since or filters.until:
        bounds: dict[str, str] = {}
        if filters.since:
            bounds["gte"] = _date(filters.since, end_of_day=False)
        if filters.until:
            bounds["lte"] = _date(filters.until, end_of_day=True)
        clauses.append({"range": {"published_at": bounds}})
    return clauses


def build_query(query: str | None, filters: Filters | None = None) -> dict[str, Any]:
    """The ``bool`` query: the text (with entity aliases expanded) and the filters."""
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if query and query.strip() not in ("", "*"):
        text, entities = expand_aliases(query)
        must.append({"simple_query_string": {
            "query": text, "fields": text_fields((filters or Filters()).language),
            "default_operator": "and",
            "quote_field_suffix": ".exact",
        }})
        for canonical in entities:
            # Articles whose canonical entity facet holds the name rank above mere mentions.
            should.extend({"term": {f: {"value": canonical, "boost": 2.0}}}
                          for f in ENTITY_FIELDS)
    return {"bool": {"must": must or [{"match_all": {}}], "should": should,
                     "filter": build_filters(filters or Filters())}}


def build_request(
    query: str | None,
    filters: Filters | None = None,
    *,
    size: int = 10,
    page: int = 1,
    facet_size: int = 10,
    collapse: bool = False,
    interval: str = "auto",
) -> dict[str, Any]:
    """The search request body (keyword arguments of ``Elasticsearch.search``)."""
    aggs: dict[str, Any] = {name: {"terms": {"field": name, "size": facet_size}}
                            for name in FACETS}
    if interval == "auto":
        # The node has no auto_date_histogram (an analytics-module aggregation): fetch the
        # span here and the histogram in a second request at an interval that fits it.
        aggs["first"] = {"min": {"field": "published_at"}}
        aggs["last"] = {"max": {"field": "published_at"}}
    else:
        aggs["timeline"] = _histogram(interval)
    aggs["stories"] = {"cardinality": {"field": "story_id"}}
    request: dict[str, Any] = {
        "query": build_query(query, filters),
        "size": size,
        "from_": (page - 1) * size,
        "track_total_hits": True,
        "highlight": {
            **_HIGHLIGHT,
            "fields": {
                "body": {"fragment_size": 180, "number_of_fragments": 1, "no_match_size": 180},
                "body.exact": {"fragment_size": 180, "number_of_fragments": 1},
                "localized.*.body": {"fragment_size": 180, "number_of_fragments": 1},
            },
        },
        "aggs": aggs,
        "source_excludes": ["body", "entities", "metadata", "localized"],
        "sort": ["_score", {"published_at": {"order": "desc", "missing": "_last"}}],
    }
    if collapse:
        request["collapse"] = {"field": "story_id"}
    return request


INTERVALS = ("hour", "day", "week", "month", "quarter", "year")


def _histogram(interval: str) -> dict[str, Any]:
    return {"date_histogram": {"field": "published_at", "calendar_interval": interval,
                               "min_doc_count": 0}}  # gaps show as zero


def pick_interval(first_ms: float | None, last_ms: float | None) -> str:
    """A calendar interval giving roughly 10-60 bars over the span of the matches."""
    if first_ms is None or last_ms is None:
        return "day"
    days = (last_ms - first_ms) / 86_400_000
    for interval, up_to in (("hour", 2), ("day", 60), ("week", 366), ("month", 3653)):
        if days <= up_to:
            return interval
    return "year"


# --- running it ----------------------------------------------------------------------------


def _first(highlight: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        if highlight.get(name):
            return highlight[name][0]
    return None


def _with_stories(es: Elasticsearch, alias: str, stories_index: str, hits: list[Hit]
                  ) -> list[Hit]:
    """Collapsed hits with their stories' summaries; a hit whose story merged into the story
    of a hit above it is left out (the two are one story)."""
    from newsflow.stories import summaries

    found = summaries(es, alias, stories_index, [h.story_id for h in hits if h.story_id])
    shown: set[str] = set()
    out = []
    for hit in hits:
        story = found.get(hit.story_id or "")
        if story:
            if story.story_id in shown:
                continue
            shown.add(story.story_id)
            hit.story_id, hit.story_articles = story.story_id, story.articles
            hit.story_outlet_count, hit.story_outlets = story.outlet_count, story.outlets
            hit.story_languages, hit.story_first_seen = story.languages, story.first_seen
        out.append(hit)
    return out


def search(
    es: Elasticsearch,
    alias: str,
    query: str | None = None,
    *,
    filters: Filters | dict[str, str] | None = None,
    size: int = 10,
    page: int = 1,
    facet_size: int = 10,
    collapse: bool = False,
    interval: str = "auto",
    stories_index: str | None = None,
) -> SearchResult:
    """Search ``alias``; see the module docstring. ``filters`` may be a dict of field -> value
    (``source``, ``language``, ``countries``, ``persons``, ``organizations``, ``locations``).
    ``stories_index``: where the stories stage keeps its stories (default
    ``<alias>-stories``), read to follow merged stories."""
    if isinstance(filters, dict):
        filters = Filters(
            source=filters.get("source"), language=filters.get("language"),
            country=filters.get("countries") or filters.get("country"),
            person=filters.get("persons"), organization=filters.get("organizations"),
            location=filters.get("locations"), entity=filters.get("entity"),
        )
    request = build_request(query, filters, size=size, page=page, facet_size=facet_size,
                            collapse=collapse, interval=interval)
    response = es.search(index=alias, **request)
    aggregations = response.get("aggregations", {})
    if interval == "auto":
        interval = pick_interval(aggregations.get("first", {}).get("value"),
                                 aggregations.get("last", {}).get("value"))
        timeline_response = es.search(index=alias, size=0, query=request["query"],
                                      aggs={"timeline": _histogram(interval)})
        aggregations["timeline"] = timeline_response["aggregations"]["timeline"]
    hits = []
    for h in response["hits"]["hits"]:
        src = h["_source"]
        highlight = h.get("highlight", {})
        hits.append(Hit(
            id=h["_id"], score=h.get("_score"), title=src.get("title"),
            source=src.get("source"), published_at=src.get("published_at"),
            url=src.get("url"), snippet=_first(highlight, "body.exact",
                                                    *(f"localized.{code}.body"
                                                      for code in LOCALIZED_LANGUAGES), "body"),
            cluster_id=src.get("cluster_id"), story_id=src.get("story_id"),
            language=src.get("language"),
            countries=src.get("countries", []), persons=src.get("persons", []),
            organizations=src.get("organizations", []), locations=src.get("locations", []),
        ))
    if collapse:
        hits = _with_stories(es, alias, stories_index or f"{alias}-stories", hits)
    facets = {name: [(str(b["key"]), int(b["doc_count"])) for b in aggregations[name]["buckets"]]
              for name in FACETS if name in aggregations}
    timeline_agg = aggregations.get("timeline", {})
    timeline = [(str(b["key_as_string"]), int(b["doc_count"]))
                for b in timeline_agg.get("buckets", [])]
    stories = aggregations.get("stories", {}).get("value")
    return SearchResult(
        total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets,
        timeline=timeline, timeline_interval=interval,
        stories=int(stories) if stories is not None else None, page=page, size=size,
        collapsed=collapse, query=query,
    )
