"""clean stage: RawArticle (news.raw) -> CleanArticle (news.clean).

Per article:

1. Input checks, before any parsing (bounded cost per message). ``html`` that is binary
   (control or replacement characters), has no markup, or is larger than ``MAX_HTML_CHARS``
   even without its scripts and styles is not parsed; ``text`` longer than ``MAX_TEXT_CHARS``
   is not cleaned. The input ``text``, if any, is then the body; else the article is skipped.
2. Main text. With ``html``, trafilatura (favour precision, tables kept, its own readability
   and jusText fallbacks on) extracts the main text, one paragraph per block, and the page's
   metadata: title, authors, publication date, site name. Input fields win over page metadata.
   Extraction runs in a child process with a time limit (``time_limit``) and an address-space
   limit (``MEMORY_LIMIT_BYTES``): a page that stalls or bloats the parser fails alone, the
   child is replaced, the worker goes on. When extraction finds fewer than ``min_words`` words
   the input ``text``, if any, is used instead. Without ``html`` the input ``text`` is used with
   its line structure: we do not guess whether a single newline is a paragraph break.
3. Normalisation: ftfy (mojibake, HTML entities, curly quotes, control characters), Unicode
   NFC, runs of spaces/tabs collapsed, lines trimmed, at most one blank line between
   paragraphs; then the line rules of ``workers/cleaning_rules.py``: boilerplate lines
   ("Read more", share/subscribe prompts, cookie notices, "Follow us on ...") dropped, photo
   credits and source credits glued to a paragraph's first word (``example.comThe ...``)
   moved to ``metadata["credits"]``. A first line that repeats the title is dropped.
4. Identity: ``canonical_url``, ``id`` (hash of it), ``source`` (input, else the URL's domain),
   ``word_count`` (``\\w+`` runs), ``published_at`` (input, else page metadata; a page date
   without an offset is taken as UTC), ``metadata`` carried over (plus ``site_name`` from the
   page when it says more than the domain, and ``credits``); ``versions["clean"]``.
5. Language: a given ``language`` is kept (primary subtag: ``en-GB`` -> ``en``) with
   ``language_confidence`` None, since nothing was measured. Otherwise py3langid with
   normalised probabilities; below ``MIN_LANGUAGE_CONFIDENCE`` the guess is dropped.

Skip reasons (each with a detail): ``binary`` (html is binary data), ``not-html`` (no markup
in ``html``), ``too-large`` (html or text over its cap), ``not-article`` (html gave no main
text, or fewer than ``min_words`` words), ``not-text`` (the body would be binary data or
noise, not language: ``workers/not_text.py``), ``empty`` (blank text after normalisation),
``too-short`` (text of fewer than ``min_words`` words). With an input ``text`` the html
reasons fall back to that text instead of skipping.

Fails (dead letter): extraction over its time limit (``ExtractionTimeout``) or memory limit
(``MemoryError``), and any unexpected exception while cleaning one article; each fails that
article alone. Messages that are not JSON, or have no ``text``/``html``, are dead-lettered by
the runtime before they reach the stage.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import resource
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.pool import Pool
from typing import Any

import ftfy
import trafilatura
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from trafilatura.settings import Document

from schemas.articles import CleanArticle, RawArticle, article_id, canonical_url, source_of
from workers.cleaning_rules import apply_line_rules
from workers.not_text import why_not_text
from workers.settings import WorkerSettings
from workers.stage import Emit, Fail, Outcome, Skip, StageContext
from workers.topology import STAGES

NAME = "clean"
VERSION = STAGES[NAME].version

# Caps checked before parsing, so that one message costs bounded time and memory. A news
# article is well under 1 MB of HTML and 100 kB of text; these leave a wide margin.
MAX_HTML_CHARS = 5_000_000
MAX_TEXT_CHARS = 1_000_000
# Per-article limits of the extraction child process (seconds; bytes of address space).
TIME_LIMIT_SECONDS = 10.0
MEMORY_LIMIT_BYTES = 2 * 1024**3
MIN_LANGUAGE_CONFIDENCE = 0.5
# Language is plain from the first few thousand characters; more only costs time.
LANGUAGE_SAMPLE_CHARS = 10_000
# How much of an html payload the binary / markup checks look at.
SNIFF_CHARS = 65_536
MAX_BINARY_SHARE = 0.01

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
_MARKUP = re.compile(r"<(?:[a-zA-Z][\w:-]*|!--|!doctype|/[a-zA-Z])", re.IGNORECASE)
# C0 controls other than tab/newline/CR, DEL, and U+FFFD (what a decoder leaves of bytes
# that were not text): their share tells binary data from a page.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
# Blocks that carry no text but make up most of an oversized page (inline bundles, data).
_NO_TEXT_BLOCKS = re.compile(
    r"<(script|style|svg|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)

log = logging.getLogger(__name__)


class ExtractionTimeout(TimeoutError):
    """Extraction of one page took longer than the stage's time limit."""


# In plain ASCII, all ftfy can fix is HTML entities and control characters (\r, ESC, ...).
_FTFY_ASCII_WORK = re.compile(r"[&\x00-\x08\x0b-\x1f\x7f]")


def fix_text(text: str) -> str:
    """ftfy.fix_text, skipped for the (common) ASCII text it would return unchanged: the
    profiler showed ftfy as a quarter of the pipeline's processing time on wire copy."""
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


def check_html(html: str) -> tuple[str, Skip | None]:
    """The html to parse, or why not to parse it (``binary``, ``not-html``, ``too-large``).

    Checked on the first ``SNIFF_CHARS`` only, and an oversized page is first stripped of its
    scripts and styles (a regex pass, linear in its size) before it is judged too large.
    """
    head = html[:SNIFF_CHARS]
    binary = len(_BINARY.findall(head))
    if binary > MAX_BINARY_SHARE * len(head):
        return html, Skip(
            "binary", f"{binary} control/undecodable characters in the first {len(head)}"
        )
    if not _MARKUP.search(head):
        return html, Skip("not-html", "no HTML markup in 'html'")
    if len(html) > MAX_HTML_CHARS:
        stripped = _NO_TEXT_BLOCKS.sub(" ", html)
        if len(stripped) > MAX_HTML_CHARS:
            return html, Skip(
                "too-large",
                f"html of {len(html)} chars ({len(stripped)} without scripts "
                f"and styles) > {MAX_HTML_CHARS}",
            )
        html = stripped
    return html, None


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
        # Tables are often part of the story (results, figures); with favor_precision the
        # layout tables that hold menus are still left out. On ../shared/data/extraction-dev,
        # hash half A (where this was chosen): F1 0.977 -> 0.978; half B: 0.960 -> 0.972.
        include_tables=True,
        # Teasers, share bars and link lists are left out more often than by default
        # (extraction-dev: F1 0.968 against 0.958).
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if not isinstance(doc, Document):  # None: nothing found
        return NO_PAGE
    return Page(doc.text, doc.title, doc.author, doc.date, doc.sitename)


def _limit_memory(limit: int) -> None:
    """Initializer of the extraction child: cap its address space (MemoryError beyond)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Extractor:
    """``extract_page`` in a child process, with a time and a memory limit per page.

    Why a process: lxml parses in C, so neither a signal nor a thread can interrupt it or
    bound its memory; a child can be capped (rlimit) and killed on time-out. ``spawn``, not
    ``fork``: the worker has client threads, which a forked child must not inherit.
    ``time_limit=None`` runs in-process, unbounded (tests that patch the extractor).
    """

    def __init__(self, time_limit: float | None, memory_limit: int = MEMORY_LIMIT_BYTES) -> None:
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self._pool: Pool | None = None

    def __call__(self, html: str, url: str) -> Page:
        if self.time_limit is None:
            return extract_page(html, url)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(1, initializer=_limit_memory, initargs=(self.memory_limit,))
            # The child's start-up (imports) must not count against the first page's time.
            self._pool.apply(word_count, ("warm up",))
        pending = self._pool.apply_async(extract_page, (html, url))
        try:
            return pending.get(timeout=self.time_limit)
        except multiprocessing.TimeoutError:
            self.close()  # kills the stuck child; the next page starts a fresh one
            raise ExtractionTimeout(
                f"extraction took over {self.time_limit:g}s ({len(html)} chars of html)"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


class CleanStage:
    name = NAME
    version = VERSION

    def __init__(self, min_words: int, time_limit: float | None = TIME_LIMIT_SECONDS) -> None:
        self.min_words = min_words
        self.extract = Extractor(time_limit)
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

    def main_text(self, raw: RawArticle) -> tuple[str, Page] | Skip:
        """The body before normalisation, and the page found (NO_PAGE for text input)."""
        text = raw.text if raw.text and raw.text.strip() else ""
        if len(text) > MAX_TEXT_CHARS:
            return Skip("too-large", f"text of {len(text)} chars > {MAX_TEXT_CHARS}")
        if not (raw.html and raw.html.strip()):
            return text, NO_PAGE
        html, problem = check_html(raw.html)
        if problem:
            return (text, NO_PAGE) if text else problem
        page = self.extract(html, raw.url)
        found = word_count(page.text or "")
        # Extraction that misses the article finds a menu item or two: then the input
        # text, if any, is the better body.
        if found >= max(self.min_words, 1):
            # trafilatura's txt output has one block per line: make each a paragraph.
            return "\n\n".join(page.text.splitlines()) if page.text else "", page
        if text:
            return text, page
        return Skip("not-article", f"no main text in the page ({found} words found)")

    def clean(self, raw: RawArticle) -> Emit[CleanArticle] | Skip:
        found = self.main_text(raw)
        if isinstance(found, Skip):
            return found
        text, page = found
        if problem := why_not_text(text):
            return Skip("not-text", problem)

        title = normalise_line(raw.title) or normalise_line(page.title)
        cleaned = apply_line_rules(normalise_text(text))
        body = drop_title_line(cleaned.text, title)
        if not body:
            return Skip("empty", "no text left after normalisation")
        words = word_count(body)
        if words < self.min_words:
            return Skip("too-short", f"{words} words < {self.min_words}")

        source = (raw.source or "").strip() or source_of(raw.url)
        metadata = dict(raw.metadata)
        site_name = normalise_line(page.site_name)
        # trafilatura falls back to the host name, which ``source`` already says.
        if site_name and site_name.casefold() not in (source.casefold(), source_of(raw.url)):
            metadata.setdefault("site_name", site_name)
        if cleaned.credits:
            metadata["credits"] = [*metadata.get("credits", []), *cleaned.credits]
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
        self.extract.close()


def build(settings: WorkerSettings, context: StageContext) -> CleanStage:
    return CleanStage(min_words=settings.min_words)
