"""Archive readers: the shared corpora's records as raw articles, dates and filters."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from flows.archives import matches, read_archive, reuters_date
from schemas.articles import RawArticle


def test_reuters_dates_with_their_1987_quirks():
    assert reuters_date("26-FEB-1987 15:01:01.79") == datetime(1987, 2, 26, 15, 1, 1, tzinfo=UTC)
    assert reuters_date("3-MAR-1987  09:15:05.40") == datetime(1987, 3, 3, 9, 15, 5, tzinfo=UTC)
    assert reuters_date("27-MAR-1987 00:02:59.13RM") == datetime(1987, 3, 27, 0, 2, 59,
                                                                  tzinfo=UTC)
    assert reuters_date("no date") is None


def test_corpus_records_become_raw_articles_and_filter_by_date_and_source(tmp_path: Path):
    archive = tmp_path / "mixed.jsonl.gz"
    lines = [
        {"newid": 7, "date": "2-MAR-1987 10:00:00.00", "title": "COCOA", "body": "Cocoa rose.",
         "topics": ["cocoa"], "source": "Reuters newswire (1987)"},
        {"id": "tech/001", "category": "tech", "source": "BBC News", "date": None,
         "title": "Chips", "body": "Chip sales rose."},
        {"url": "https://example.org/a", "text": "Hello", "published_at": "1987-03-09T00:00:00Z"},
    ]
    with gzip.open(archive, "wt") as fh:
        fh.writelines(json.dumps(x) + "\n" for x in lines)
        fh.write("{ not json\n")
    records = list(read_archive([archive]))
    assert [r.position for r in records] == [0, 1, 2, 3]
    reuters = RawArticle.model_validate_json(records[0].value)
    assert reuters.url == "https://reuters21578.invalid/newid/7"
    assert reuters.published_at == datetime(1987, 3, 2, 10, tzinfo=UTC)
    assert reuters.metadata["topics"] == ["cocoa"]
    bbc = RawArticle.model_validate_json(records[1].value)
    assert bbc.url == "https://bbc-news.invalid/tech/001" and bbc.source == "BBC News"
    assert records[3].value == b"{ not json"  # sent as is: clean dead-letters it

    week = (datetime(1987, 3, 2, tzinfo=UTC), datetime(1987, 3, 9, tzinfo=UTC))
    assert [r.position for r in records if matches(r, *week)] == [0]
    assert [r.position for r in records if matches(r, sources=["bbc news"])] == [1]
    assert [r.position for r in records if matches(r, sources=["example.org"])] == [2]
