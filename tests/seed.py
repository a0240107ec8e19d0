"""The seed article as the entities stage receives it, for the tests of that stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.seeds import SeedError, seed_article
from schemas.articles import DedupedArticle, RawArticle
from workers.clean.stage import CleanStage
from workers.stage import Emit


def deduped_seed(shared: Path) -> DedupedArticle:
    """Read from the shared data (it is not in the repository), cleaned, as a new story."""
    try:
        raw = RawArticle.model_validate(seed_article(shared))
    except SeedError:
        pytest.fail(f"the seed article needs the shared data (NEWSFLOW_SHARED_DIR): {shared}")
    [cleaned] = CleanStage(min_words=20).process([raw])
    assert isinstance(cleaned, Emit)
    return DedupedArticle(**cleaned.article.model_dump(), cluster_id="c", text_hash="h")
