"""Re-enrichment re-runs only the stages whose version changed, on the real pipeline."""

from __future__ import annotations

import pytest

from flows.publish import publish
from flows.reenrich import reenrich_flow
from schemas.articles import article_id
from workers import entities
from workers.io import elastic

from .conftest import Pipeline, jsonl, wait_for

pytestmark = pytest.mark.integration

ARTICLES = [
    {"url": f"https://example.org/reenrich/{n}", "source": src, "language": "en",
     "published_at": f"2025-03-0{n + 1}T08:00:00Z",
     "title": f"Talks in Geneva, round {n}",
     "text": (f"Diplomats from France and Germany met in Geneva on day {n} to discuss a new "
              "trade agreement, the foreign ministry said, adding that Chancellor Olaf Scholz "
              "and President Emmanuel Macron would review the draft before the summit in "
              "Brussels next month. Officials expect further talks on tariffs and farming.")}
    for n, src in enumerate(["a.example", "b.example", "a.example"])
]


def test_only_documents_with_an_old_stage_version_are_rerun_from_that_stage(
        pipeline: Pipeline):
    pipeline.start()
    ids = publish(pipeline.settings, jsonl(ARTICLES)).ids
    es = elastic.client(pipeline.settings)
    alias = pipeline.settings.es_alias
    wait_for(lambda: es.count(index=alias, query={"ids": {"values": ids}})["count"] == 3,
             what="indexed")
    # Pretend the entities of source a.example were made by an older entities stage.
    stale = [article_id(a["url"]) for a in ARTICLES if a["source"] == "a.example"]
    before = {}
    for doc_id in ids:
        doc = es.get(index=alias, id=doc_id)["_source"]
        before[doc_id] = doc
        if doc_id in stale:
            es.update(index=alias, id=doc_id, doc={
                "versions": {**doc["versions"], "entities": "0.0.1"}, "persons": []},
                refresh=True)

    result = reenrich_flow(sources=["a.example"], settings=pipeline.settings)
    assert result == {"selected": 2, "up_to_date": 0, "republished": {"entities": 2}}

    def redone() -> bool:
        docs = [es.get(index=alias, id=i)["_source"] for i in stale]
        return all(d["versions"]["entities"] == entities.VERSION for d in docs)

    wait_for(redone, what="the stale documents re-enriched")
    for doc_id in stale:
        doc = es.get(index=alias, id=doc_id)["_source"]
        assert doc["persons"] == before[doc_id]["persons"]  # restored by the entities stage
        assert doc["cluster_id"] == before[doc_id]["cluster_id"]  # dedup was not re-run
        assert doc["indexed_at"] > before[doc_id]["indexed_at"]
    untouched = next(i for i in ids if i not in stale)
    assert es.get(index=alias, id=untouched)["_source"]["indexed_at"] == \
        before[untouched]["indexed_at"]
    # Nothing is stale any more: a second run republishes nothing.
    again = reenrich_flow(settings=pipeline.settings)
    assert again == {"selected": 3, "up_to_date": 3, "republished": {}}
