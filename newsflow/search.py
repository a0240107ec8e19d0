"""Faceted full-text search over the ``news`` alias: the Python API behind ``newsflow search``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

FACETS = ("source", "language", "persons", "organizations", "locations", "countries")


@dataclass
class Hit:
    id: str
    score: float | None
    title: str | None
    source: str | None
    published_at: str | None
    url: str | None
    snippet: str | None


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def search(
    es: Elasticsearch,
    alias: str,
    query: str | None = None,
    *,
    filters: dict[str, str] | None = None,
    size: int = 10,
    page: int = 1,
    facet_size: int = 10,
) -> SearchResult:
    """Search title (boosted) and body; ``filters`` are exact values on facet fields."""
    must: list[dict[str, Any]] = []
    if query and query.strip() not in ("", "*"):
        must.append({"multi_match": {"query": query, "fields": ["title^3", "body"]}})
    filter_clauses = [{"term": {name: value}} for name, value in (filters or {}).items()]
    body_query = {"bool": {"must": must or [{"match_all": {}}], "filter": filter_clauses}}
    response = es.search(
        index=alias,
        query=body_query,
        size=size,
        from_=(page - 1) * size,
        track_total_hits=True,
        highlight={"fields": {"body": {"fragment_size": 160, "number_of_fragments": 1}}},
        aggs={name: {"terms": {"field": name, "size": facet_size}} for name in FACETS},
        source_excludes=["body", "entities"],
        sort=["_score", {"published_at": {"order": "desc", "missing": "_last"}}],
    )
    hits = []
    for h in response["hits"]["hits"]:
        src = h["_source"]
        fragments = h.get("highlight", {}).get("body")
        hits.append(Hit(h["_id"], h.get("_score"), src.get("title"), src.get("source"),
                        src.get("published_at"), src.get("url"),
                        fragments[0] if fragments else None))
    facets = {
        name: [(b["key"], b["doc_count"]) for b in agg["buckets"]]
        for name, agg in response.get("aggregations", {}).items()
    }
    return SearchResult(response["hits"]["total"]["value"], hits, facets)
