"""Normalisation of the clean stage's strings: body and one-line fields in, tidy strings out.

Also the small field readers that turn what a page or a publisher sent into article fields:
word counts, a title line repeated at the top, page dates, language tags and author lists.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import ftfy

_WORD = re.compile(r"\w+")
_INLINE_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but a newline (tabs, NBSP, ...)
_BLANK_LINES = re.compile(r"\n{3,}")
# In plain ASCII, all ftfy can fix is HTML entities and control characters (\r, ESC, ...).
_FTFY_ASCII_WORK = re.compile(r"[&\x00-\x08\x0b-\x1f\x7f]")


def fix_text(text: str) -> str:
    """ftfy.fix_text, skipped for the (common) ASCII text it would return unchanged: ftfy
    was a large share of the pipeline's processing time on wire copy (docs/stages/clean.md)."""
    if text.isascii() and not _FTFY_ASCII_WORK.search(text):
        return text
    return ftfy.fix_text(text)


def normalise_text(text: str) -> str:
    """ftfy, NFC, one space between words, trimmed lines, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", fix_text(text))
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalise_line(text: str | None) -> str | None:
    """A one-line field (title, author): normalised, all whitespace as single spaces."""
    if not text:
        return None
    line = " ".join(unicodedata.normalize("NFC", fix_text(text)).split())
    return line or None


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def drop_title_line(body: str, title: str | None) -> str:
    """Remove a first line that only repeats the title (extracted pages usually start so)."""
    if not title:
        return body
    first, _, rest = body.partition("\n")
    if first.strip().casefold() == title.casefold() and rest.strip():
        return rest.lstrip("\n")
    return body


def parse_page_date(value: str | None) -> datetime | None:
    """htmldate's ``%Y-%m-%dT%H:%M:%S%z`` output; an offset-less date is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def primary_language(code: str) -> str | None:
    """``en-GB`` / ``EN_us`` / ``en`` -> ``en``; empty -> None."""
    primary = re.split(r"[-_]", code.strip(), maxsplit=1)[0].lower()
    return primary or None


def input_authors(metadata: dict[str, Any]) -> list[str]:
    """Authors a publisher sent as an unknown field (``authors`` list/str or ``author``)."""
    value = metadata.get("authors") or metadata.get("author")
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list):
        return []
    return [name for name in (normalise_line(str(v)) for v in value) if name]


def split_authors(value: str | None) -> list[str]:
    """trafilatura joins several authors with ``; ``."""
    return [name for name in (normalise_line(v) for v in (value or "").split(";")) if name]
