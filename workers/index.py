"""index stage: StoriedArticle -> IndexDocument, written to Elasticsearch by the runtime.

The stage itself only shapes the document (the mapping lives in ``schemas/es/``); the
runtime's Elasticsearch sink bulk-writes it under ``_id = article id`` through the ``news``
alias, so a replay overwrites instead of duplicating.

Skips: none. Dead letters: a document Elasticsearch rejects for good (a mapping conflict,
4xx other than 429) is dead-lettered by the sink with Elasticsearch's reason; 429 and 5xx
are retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schemas.articles import IndexDocument, StoriedArticle, localized
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, StageContext
from workers.topology import STAGES

NAME = "index"
VERSION = STAGES[NAME].version

_DOC_FIELDS = sorted(set(IndexDocument.model_fields) & set(StoriedArticle.model_fields))


def to_document(article: StoriedArticle, indexed_at: datetime) -> IndexDocument:
    # The article's own values, not a model_dump of them: its entities are Entity objects
    # already, which validation takes as they are instead of rebuilding each from a dict
    # (18 µs against 107 for an article with 15 entities).
    fields = {name: getattr(article, name) for name in _DOC_FIELDS}
    fields["versions"] = {**article.versions, NAME: VERSION}
    fields["indexed_at"] = indexed_at
    fields["localized"] = localized(article.language, article.title, article.body) or None
    fields["story_vector"] = article.story_vector or None  # none for an article without words
    return IndexDocument.model_validate(fields)


class IndexStage:
    name = NAME
    version = VERSION

    def process(self, batch: Sequence[StoriedArticle]) -> list[Outcome]:
        now = datetime.now(UTC)
        return [Emit(to_document(article, now)) for article in batch]

    def close(self) -> None:
        pass


def build(settings: WorkerSettings, context: StageContext) -> IndexStage:
    return IndexStage()
