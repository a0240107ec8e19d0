"""Archives for backfills: every record as a ``news.raw`` message with its date and source.

What can be read (a path is a file or a folder; files in :func:`flows.publish.read_messages`
order, so the same archive always yields the same records in the same order):
- raw-article JSONL (plain or ``.gz``), ``.json``, folders of ``.txt``/``.html``: the
  ``news.raw`` contract, sent as is;
- the shared corpora's JSONL, recognised per record by their fields and turned into raw
  articles:
  * Reuters-21578 (``newid``, ``date`` like ``26-FEB-1987 15:01:01.79``, read as UTC,
    ``title``, ``body``, ``topics``, ``places``, ``dateline``);
  * BBC News (``id`` like ``business/001``, ``category``, ``source``, ``title``, ``body``).
  Neither has a URL: they get one under the reserved ``.invalid`` domain
  (``https://reuters21578.invalid/newid/1``), which makes the article id stable and says
  plainly that there is no page behind it.

A record's ``position`` is its place in that stable order, counted before any filtering: a
backfill's checkpoint is the position of the next record to read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.publish import read_messages
from schemas.articles import source_of

# Reuters-21578 dates carry stray spaces and letters ("3-MAR-1987  09:15:05.40",
# "27-MAR-1987 00:02:59.13RM"): take the day and the time to the second, ignore the rest.
_REUTERS_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})")
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}


@dataclass(frozen=True)
class ArchiveRecord:
    position: int  # place in the archive's stable order, before filtering
    value: bytes  # the news.raw message
    published_at: datetime | None
    source: str | None


def reuters_date(text: str) -> datetime | None:
    """``26-FEB-1987 15:01:01.79`` → 1987-02-26T15:01:01+00:00 (None if unreadable)."""
    m = _REUTERS_DATE.search(text or "")
    if not m or m.group(2).upper() not in _MONTHS:
        return None
    day, _, year, hour, minute, second = m.groups()
    try:
        return datetime(int(year), _MONTHS[m.group(2).upper()], int(day), int(hour),
                        int(minute), int(second), tzinfo=UTC)
    except ValueError:
        return None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_reuters(rec: dict[str, Any]) -> dict[str, Any]:
    """A Reuters-21578 record as a raw article (extra fields travel under ``metadata``)."""
    published = reuters_date(str(rec.get("date") or ""))
    body = (rec.get("body") or "").strip()
    title = (rec.get("title") or "").strip()
    return {
        "url": f"https://reuters21578.invalid/newid/{rec['newid']}",
        "title": title or None,
        # A title-only record (about 1,800 of them) is sent with its title as the text:
        # clean then skips it as too short, with that reason, instead of it vanishing here.
        "text": body or title or "(empty)",
        "source": rec.get("source") or "reuters21578",
        "published_at": published.isoformat() if published else None,
        "language": "en",
        "corpus": "reuters21578",
        **{k: rec[k] for k in ("newid", "topics", "places", "dateline") if rec.get(k)},
    }


def from_bbc(rec: dict[str, Any]) -> dict[str, Any]:
    """A BBC News corpus record as a raw article."""
    published = _iso_date(rec.get("date"))
    return {
        "url": f"https://bbc-news.invalid/{rec['id']}",
        "title": rec.get("title"),
        "text": rec.get("body") or rec.get("title") or "(empty)",
        "source": rec.get("source") or "bbc-news",
        "published_at": published.isoformat() if published else None,
        "language": "en",
        "corpus": "bbc-news",
        "category": rec.get("category"),
    }


def to_record(position: int, value: bytes) -> ArchiveRecord:
    """Recognise one archive line; lines that are not JSON objects are sent unchanged
    (the clean stage dead-letters them with a reason, as for ``newsflow publish``)."""
    try:
        data = json.loads(value)
    except ValueError:
        return ArchiveRecord(position, value, None, None)
    if not isinstance(data, dict):
        return ArchiveRecord(position, value, None, None)
    if not data.get("url"):
        if "newid" in data and "date" in data:
            data = from_reuters(data)
        elif "id" in data and "category" in data:
            data = from_bbc(data)
        else:
            return ArchiveRecord(position, value, _iso_date(data.get("published_at")),
                                 data.get("source"))
        data = {k: v for k, v in data.items() if v is not None}
        value = json.dumps(data, ensure_ascii=False).encode()
    url = data.get("url")
    source = data.get("source") or (source_of(url) if isinstance(url, str) else None)
    return ArchiveRecord(position, value, _iso_date(data.get("published_at")), source)


def read_archive(paths: Iterable[Path], url_prefix: str = "file:///") -> Iterator[ArchiveRecord]:
    """Every record of the archives, in a stable order, positions counted across paths."""
    position = 0
    for path in paths:
        for value in read_messages(Path(path), url_prefix):
            yield to_record(position, value)
            position += 1


def matches(record: ArchiveRecord, since: datetime | None = None, until: datetime | None = None,
            sources: Iterable[str] = ()) -> bool:
    """``since <= published_at < until`` and source among ``sources`` (case-insensitive).

    With a date bound, records without a date are left out: they are not in the range.
    """
    if since is not None or until is not None:
        if record.published_at is None:
            return False
        if since is not None and record.published_at < since:
            return False
        if until is not None and record.published_at >= until:
            return False
    wanted = {s.casefold() for s in sources}
    return not wanted or (record.source or "").casefold() in wanted
