"""The clean stage: RawArticle (news.raw) in, CleanArticle (news.clean) out, or a skip.

Picks the body (the page's main text, else the input ``text``), normalises it, applies the line
rules, and fills identity, metadata and language. Skip reasons: ``binary``, ``not-html``,
``too-large``, ``not-article``, ``not-text``, ``empty``, ``too-short``; an unexpected error
fails that article alone. The whole procedure is in docs/stages/clean.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from schemas.articles import CleanArticle, RawArticle, article_id, canonical_url, source_of
from workers.clean.extract import (
    MAX_TEXT_CHARS,
    NO_PAGE,
    TIME_LIMIT_SECONDS,
    Extractor,
    Page,
    check_html,
)
from workers.clean.not_text import why_not_text
from workers.clean.rules import apply_line_rules
from workers.clean.text import (
    drop_title_line,
    input_authors,
    normalise_line,
    normalise_text,
    parse_page_date,
    primary_language,
    split_authors,
    word_count,
)
from workers.settings import WorkerSettings
from workers.stage import Emit, Fail, Outcome, Skip, StageContext
from workers.topology import STAGES

NAME = "clean"
VERSION = STAGES[NAME].version

MIN_LANGUAGE_CONFIDENCE = 0.5
# Language is plain from the first few thousand characters; more only costs time.
LANGUAGE_SAMPLE_CHARS = 10_000

log = logging.getLogger(__name__)


class CleanStage:
    """Cleans a batch of raw articles, each alone: an error fails that article only."""

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
