"""clean stage: RawArticle (news.raw) -> CleanArticle (news.clean).

Per article:

1. Main text. With ``html``, trafilatura extracts the main text (navigation, footers, comments
   and tables left out; one paragraph per block, separated by a blank line) and the page's
   metadata: title, authors, publication date, site name. Input fields win over page
   metadata. When extraction finds fewer than ``settings.min_words`` words (it missed the
   article), the input ``text``, if any, is used instead. Without ``html`` the input ``text``
   is used as given, its line structure kept: we do not guess whether a single newline is a
   paragraph break or a hard wrap.
2. Normalisation: ftfy (mojibake, HTML entities, curly quotes, control characters), Unicode
   NFC, runs of spaces/tabs collapsed to one space, lines trimmed, at most one blank line
   between paragraphs. A first line that repeats the title is dropped, so that a body reads
   the same whether or not the publisher put the headline in it.
3. Identity: ``canonical_url``, ``id`` (hash of it), ``source`` (input, else the URL's domain),
   ``word_count`` (``\\w+`` runs), ``published_at`` (input, else page metadata; a page date
   without an offset is taken as UTC), ``metadata`` carried over (plus the page's ``site_name``
   when the input has none and it is more than the domain).
4. Language: a given ``language`` is kept (primary subtag, lower case: ``en-GB`` -> ``en``) and
   ``language_confidence`` stays None, since nothing was measured. Otherwise py3langid with
   normalised probabilities: ``language_confidence`` is the probability of the best language,
   and below ``MIN_LANGUAGE_CONFIDENCE`` the guess is dropped (``language`` None).

Skip reasons:
- ``too-large``: ``html`` longer than ``MAX_HTML_CHARS`` and no ``text`` to fall back on (a page
  that size is a feed dump or a broken crawl, not an article; parsing it would stall the batch);
- ``empty``: no text left after extraction and normalisation;
- ``too-short``: fewer than ``settings.min_words`` words.

Fails (dead letter): only an unexpected exception while cleaning one article; it fails that
article alone. Junk HTML is not an error: trafilatura finds no text and the article is skipped.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ftfy
import trafilatura
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from trafilatura.settings import Document

from newsflow.config import Settings
from schemas.articles import CleanArticle, RawArticle, article_id, canonical_url, source_of
from workers.stage import Emit, Fail, Outcome, Skip, StageContext

NAME = "clean"
VERSION = "1.0.0"

MAX_HTML_CHARS = 5_000_000
MIN_LANGUAGE_CONFIDENCE = 0.5
# Language is plain from the first few thousand characters; more only costs time.
LANGUAGE_SAMPLE_CHARS = 10_000

# Ask htmldate (inside trafilatura) for the original publication date, with its time and
# offset, and only from what the page declares (meta tags, JSON-LD, <time>, URL): its
# "extensive" search also picks up any date mentioned in the text.
_DATE_PARAMS = {
    "original_date": True,
    "extensive_search": False,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}

_WORD = re.compile(r"\w+")
_INLINE_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but a newline (tabs, NBSP, ...)
_BLANK_LINES = re.compile(r"\n{3,}")

log = logging.getLogger(__name__)


def normalise_text(text: str) -> str:
    """ftfy, NFC, one space between words, trimmed lines, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", ftfy.fix_text(text))
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalise_line(text: str | None) -> str | None:
    """A one-line field (title, author): normalised, all whitespace as single spaces."""
    if not text:
        return None
    line = " ".join(unicodedata.normalize("NFC", ftfy.fix_text(text)).split())
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


@dataclass(frozen=True)
class Page:
    """What trafilatura found in an HTML page (everything None when there was no page)."""

    text: str | None = None
    title: str | None = None
    author: str | None = None
    date: str | None = None
    site_name: str | None = None


NO_PAGE = Page()


def extract_page(html: str, url: str) -> Page:
    """Main text (one block per line) and metadata of a page; offline, never fetches."""
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # On the shared extraction-dev pages (../shared/data/extraction-dev): F1 0.969
        # against 0.960 by default; teasers, share bars and link lists are left out more often.
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if not isinstance(doc, Document):  # None: nothing found
        return NO_PAGE
    return Page(doc.text, doc.title, doc.author, doc.date, doc.sitename)


class CleanStage:
    name = NAME
    version = VERSION

    def __init__(self, min_words: int) -> None:
        self.min_words = min_words
        # One identifier per stage (the module-level py3langid one is not normalised).
        self._langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def process(self, batch: Sequence[RawArticle]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for raw in batch:
            try:
                outcomes.append(self.clean(raw))
            except Exception as exc:  # one bad article must not take its batch down
                log.debug("clean failed for %s", raw.url, exc_info=True)
                outcomes.append(Fail(exc))
        return outcomes

    def clean(self, raw: RawArticle) -> Emit[CleanArticle] | Skip:
        page = NO_PAGE
        text = raw.text or ""
        if raw.html and raw.html.strip():
            if len(raw.html) <= MAX_HTML_CHARS:
                page = extract_page(raw.html, raw.url)
            elif not text.strip():
                return Skip("too-large", f"html of {len(raw.html)} chars > {MAX_HTML_CHARS}")
            # Extraction that misses the article finds a menu item or two: then the input
            # text, if any, is the better body.
            if page.text and (word_count(page.text) >= self.min_words or not text.strip()):
                # trafilatura's txt output has one block per line: make each a paragraph.
                text = "\n\n".join(page.text.splitlines())

        title = normalise_line(raw.title) or normalise_line(page.title)
        body = drop_title_line(normalise_text(text), title)
        if not body:
            return Skip("empty", "no text after extraction" if raw.html else "blank text")
        words = word_count(body)
        if words < self.min_words:
            return Skip("too-short", f"{words} words < {self.min_words}")

        source = (raw.source or "").strip() or source_of(raw.url)
        metadata = dict(raw.metadata)
        site_name = normalise_line(page.site_name)
        # trafilatura falls back to the host name, which ``source`` already says.
        if site_name and site_name.casefold() not in (source.casefold(), source_of(raw.url)):
            metadata.setdefault("site_name", site_name)
        authors = input_authors(raw.metadata) or split_authors(page.author)

        language, confidence = self.language(raw.language, body)
        return Emit(
            CleanArticle(
                id=article_id(raw.url),
                url=raw.url,
                canonical_url=canonical_url(raw.url),
                source=source,
                title=title,
                body=body,
                authors=authors,
                published_at=raw.published_at or parse_page_date(page.date),
                language=language,
                language_confidence=confidence,
                word_count=words,
                metadata=metadata,
                versions={NAME: VERSION},
            )
        )

    def language(self, given: str | None, body: str) -> tuple[str | None, float | None]:
        if given and (code := primary_language(given)):
            return code, None
        code, probability = self._langid.classify(body[:LANGUAGE_SAMPLE_CHARS])
        confidence = round(float(probability), 4)
        if confidence < MIN_LANGUAGE_CONFIDENCE:
            return None, confidence
        return str(code), confidence

    def close(self) -> None:
        pass


def build(settings: Settings, context: StageContext) -> CleanStage:
    return CleanStage(min_words=settings.min_words)
