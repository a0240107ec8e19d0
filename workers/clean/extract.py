"""Main text and metadata of an HTML page: html in, a ``Page`` out, or why it is not parsed.

``check_html`` turns binary, markup-less and oversized pages away before any parsing, so one
message costs bounded time; ``Extractor`` runs trafilatura in a child process with a time and
a memory limit per page, so a page that stalls or bloats the parser fails alone.
"""

from __future__ import annotations

import multiprocessing
import re
import resource
from dataclasses import dataclass
from multiprocessing.pool import Pool

import trafilatura
from trafilatura.settings import Document

from workers.clean.text import word_count
from workers.stage import Skip

# Caps checked before parsing, so that one message costs bounded time and memory. A news
# article is well under 1 MB of HTML and 100 kB of text; these leave a wide margin.
MAX_HTML_CHARS = 5_000_000
MAX_TEXT_CHARS = 1_000_000
# Per-article limits of the extraction child process (seconds; bytes of address space).
TIME_LIMIT_SECONDS = 10.0
MEMORY_LIMIT_BYTES = 2 * 1024**3
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

_MARKUP = re.compile(r"<(?:[a-zA-Z][\w:-]*|!--|!doctype|/[a-zA-Z])", re.IGNORECASE)
# C0 controls other than tab/newline/CR, DEL, and U+FFFD (what a decoder leaves of bytes
# that were not text): their share tells binary data from a page.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
# Blocks that carry no text but make up most of an oversized page (inline bundles, data).
_NO_TEXT_BLOCKS = re.compile(
    r"<(script|style|svg|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)


class ExtractionTimeout(TimeoutError):
    """Extraction of one page took longer than the stage's time limit."""


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
        # layout tables that hold menus are still left out (measured: docs/stages/clean.md).
        include_tables=True,
        # Teasers, share bars and link lists are left out more often than by default.
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
