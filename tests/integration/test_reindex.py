"""The ``reindex`` flow on the real Elasticsearch: search stays up through the alias swap."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from flows.reindex import reindex_flow
from workers.io import elastic

from .conftest import Pipeline

pytestmark = pytest.mark.integration


def _doc(n: int, age: timedelta = timedelta(0)) -> tuple[str, bytes]:
    doc = {"id": f"doc{n:05d}", "url": f"https://reindex.example/{n}",
           "canonical_url": f"https://reindex.example/{n}", "source": "reindex.example",
           "title": f"Harbour report {n}",
           "body": f"The harbour authority published report number {n} on cargo volumes.",
           "word_count": 10, "cluster_id": f"doc{n:05d}", "is_duplicate": False,
           "language": "en", "versions": {"index": "1.0.0"},
           "indexed_at": (datetime.now(UTC) - age).isoformat()}
    return doc["id"], json.dumps(doc).encode()


def test_reindex_swaps_the_alias_while_search_keeps_answering(pipeline: Pipeline):
    settings = pipeline.settings
    es = elastic.client(settings)
    alias = settings.es_alias
    newest = elastic.mapping_versions()[-1]
    assert newest >= 2, "needs a mapping newer than news-v1 (schemas/es/news-v2.json)"
    # An install still on news-v1, as before the newer mapping existed.
    elastic.drop_index(es, settings)
    _, v1 = elastic.index_definition(1)
    old = elastic.index_name(settings, 1)
    es.indices.create(index=old, settings=v1["settings"], mappings=v1["mappings"],
                      aliases={alias: {"is_write_index": True}})
    try:
        assert not elastic.bulk_index(es, alias, [_doc(n, timedelta(hours=1))
                                                    for n in range(3000)])
        es.indices.refresh(index=alias)

        stop = threading.Event()
        answers: list[int] = []
        errors: list[str] = []
        written: list[str] = []

        def search() -> None:  # a reader hammering the alias all the way through
            while not stop.is_set():
                try:
                    total = es.search(index=alias, query={"match": {"body": "harbour"}},
                                      size=1, track_total_hits=True)["hits"]["total"]["value"]
                    answers.append(total)
                except Exception as exc:
                    errors.append(repr(exc))

        def write() -> None:  # a live index worker writing through the alias meanwhile
            n = 100_000
            while not stop.is_set():
                doc = _doc(n)
                if not elastic.bulk_index(es, alias, [doc]):
                    written.append(doc[0])
                n += 1
                time.sleep(0.05)

        threads = [threading.Thread(target=search), threading.Thread(target=write)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            result = reindex_flow(settings=settings)
            time.sleep(1)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)

        new = elastic.index_name(settings, newest)
        assert result["swapped"] and result["old"] == [old] and result["new"] == new
        assert sorted(es.indices.get_alias(name=alias)) == [new]
        assert elastic.write_index(es, alias) == new
        assert result["old_count"] == result["new_count"] == 3000  # the count check
        assert errors == []
        assert len(answers) > 20 and min(answers) >= 3000  # never empty, never partial
        assert written, "the live writer wrote nothing"
        es.indices.refresh(index=[old, new])
        # Everything written before or during the reindex is in the new index, once.
        assert es.count(index=new)["count"] == 3000 + len(written)
        assert es.count(index=new, query={"ids": {"values": written}})["count"] == len(written)
        assert es.indices.exists(index=old), "the old index is kept until --drop-old"

        dropped = reindex_flow(drop_old=True, settings=settings)
        assert dropped["dropped"] == [old]
        assert not es.indices.exists(index=old)
        assert es.count(index=alias)["count"] == 3000 + len(written)
    finally:
        es.options(ignore_status=404).indices.delete(index=old)
