"""Stories as people see them: a story's size, outlets, languages and first sighting, and its
articles over time, following merges (a story found to be another keeps its id on its
articles and records ``merged_into`` in the stories index; here the two are one).

``summaries`` serves ``newsflow search --collapse``; ``story`` serves ``newsflow story ID``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

MAX_MERGES = 10  # a chain of merges longer than this is not followed further


@dataclass
class StorySummary:
    story_id: str  # the story all the others merged into
    articles: int
    outlet_count: int
    outlets: list[str]  # the ten biggest
    languages: list[str]
    first_seen: str | None  # earliest published_at (else indexed_at) of its articles
    last_seen: str | None
    ids: list[str] = field(default_factory=list)  # it and the stories merged into it


def roots(es: Elasticsearch, stories_index: str, story_ids: list[str]) -> dict[str, str]:
    """story id -> the story it was merged into, at the end of the chain (itself if none; an
    id the stories index does not hold is its own root)."""
    out = {sid: sid for sid in story_ids}
    pending = set(story_ids)
    for _ in range(MAX_MERGES):
        if not pending:
            break
        asked = sorted({out[sid] for sid in pending})
        docs = es.options(ignore_status=404).mget(index=stories_index, ids=asked,
                                                  source_includes=["merged_into"])
        into = {d["_id"]: d["_source"].get("merged_into") for d in docs.get("docs", [])
                if d.get("found")}
        pending = {sid for sid in pending if into.get(out[sid])}
        for sid in pending:
            out[sid] = str(into[out[sid]])
    return out


def merged(es: Elasticsearch, stories_index: str, root_ids: list[str]) -> dict[str, list[str]]:
    """root id -> it and every story merged into it, directly or through others."""
    out = {root: [root] for root in root_ids}
    frontier = {root: [root] for root in root_ids}
    for _ in range(MAX_MERGES):
        asked = [sid for ids in frontier.values() for sid in ids]
        if not asked:
            break
        hits = es.options(ignore_status=404).search(
            index=stories_index, size=1000, query={"terms": {"merged_into": asked}},
            source_includes=["merged_into"]).get("hits", {}).get("hits", [])
        owner = {sid: root for root, ids in frontier.items() for sid in ids}
        frontier = {root: [] for root in root_ids}
        for hit in hits:
            root = owner[hit["_source"]["merged_into"]]
            if hit["_id"] not in out[root]:
                out[root].append(hit["_id"])
                frontier[root].append(hit["_id"])
    return out


def summaries(es: Elasticsearch, alias: str, stories_index: str, story_ids: list[str]
              ) -> dict[str, StorySummary]:
    """story id (as found on articles) -> its story's summary over the whole index."""
    if not story_ids:
        return {}
    root_of = roots(es, stories_index, story_ids)
    members = merged(es, stories_index, sorted(set(root_of.values())))
    every = sorted({sid for ids in members.values() for sid in ids})
    response = es.search(
        index=alias, size=0, query={"terms": {"story_id": every}},
        aggs={"stories": {
            "terms": {"field": "story_id", "size": len(every)},
            "aggs": {"outlets": {"terms": {"field": "source", "size": 1000}},
                     "languages": {"terms": {"field": "language", "size": 100}},
                     "first": {"min": {"field": "published_at"}},
                     "last": {"max": {"field": "published_at"}}},
        }},
    )
    buckets = {b["key"]: b for b in response["aggregations"]["stories"]["buckets"]}
    by_root = {root: _summary(root, ids, [buckets[i] for i in ids if i in buckets])
               for root, ids in members.items()}
    return {sid: by_root[root] for sid, root in root_of.items()}


def _summary(root: str, ids: list[str], buckets: list[dict[str, Any]]) -> StorySummary:
    outlets: dict[str, int] = {}
    languages: set[str] = set()
    firsts, lasts = [], []
    for b in buckets:
        for o in b["outlets"]["buckets"]:
            outlets[o["key"]] = outlets.get(o["key"], 0) + int(o["doc_count"])
        languages.update(str(x["key"]) for x in b["languages"]["buckets"])
        if b["first"].get("value_as_string"):
            firsts.append(b["first"]["value_as_string"])
            lasts.append(b["last"]["value_as_string"])
    ranked = sorted(outlets, key=lambda o: (-outlets[o], o))
    return StorySummary(root, sum(int(b["doc_count"]) for b in buckets), len(outlets),
                        ranked[:10], sorted(languages), min(firsts, default=None),
                        max(lasts, default=None), ids)


def story(es: Elasticsearch, alias: str, stories_index: str, story_id: str, *,
          size: int = 100) -> tuple[StorySummary | None, list[dict[str, Any]]]:
    """A story (any id of it: merged ones lead to the one they merged into) and its articles,
    oldest first: id, title, source, language, published_at, url, story_score."""
    summary = summaries(es, alias, stories_index, [story_id]).get(story_id)
    if summary is None or summary.articles == 0:
        return None, []
    hits = es.search(
        index=alias, size=size, query={"terms": {"story_id": summary.ids}},
        source_includes=["title", "source", "language", "published_at", "url", "story_score",
                         "story_id", "indexed_at"],
        sort=[{"published_at": {"order": "asc", "missing": "_last"}},
              {"indexed_at": {"order": "asc"}}],
    )["hits"]["hits"]
    return summary, [{"id": h["_id"], **h["_source"]} for h in hits]
