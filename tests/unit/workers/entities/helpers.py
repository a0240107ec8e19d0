"""Articles and entities for the entities stage's tests, and what to read off its output."""

from __future__ import annotations

from pathlib import Path

from schemas.articles import DedupedArticle, EnrichedArticle, Entity, Mention
from workers.stage import Emit, Outcome, StageContext

ROOT = Path(__file__).resolve().parents[4]
CONTEXT = StageContext(offline=True)

# Written for these tests; spaCy's labels on it were checked with en_core_web_sm 3.8.0.
STORY = (
    "President Donald Trump's administration said the U.S. would send envoys to Turkey, "
    "where Daesh fighters attacked a border post on Sunday.\n\n"
    "Later, Trump spoke to Keir Starmer by phone from Washington. The World Health Organization "
    "said Dr. Jane Smith would lead its team in Ankara, and Smith's deputy will stay in Geneva."
)


def deduped(body: str, language: str | None = "en", **fields: object) -> DedupedArticle:
    return DedupedArticle.model_validate(
        {
            "id": "a1",
            "url": "https://news.example/a1",
            "canonical_url": "https://news.example/a1",
            "source": "news.example",
            "body": body,
            "language": language,
            "word_count": len(body.split()),
            "cluster_id": "c1",
            "text_hash": "h1",
            "versions": {"clean": "1.0.0", "dedup": "1.0.0"},
            **fields,
        }
    )


def enriched(outcome: Outcome) -> EnrichedArticle:
    assert isinstance(outcome, Emit), outcome
    article = outcome.article
    assert isinstance(article, EnrichedArticle)
    return article


def surfaces(article: EnrichedArticle, name: str) -> list[str]:
    [entity] = [e for e in article.entities if e.name == name]
    return [article.body[m.start : m.end] for m in entity.mentions]


def by_name(article: EnrichedArticle) -> dict[str, Entity]:
    return {e.name: e for e in article.entities}


def entity(name: str, type_: str, *starts: int) -> Entity:
    mentions = [Mention(start=s, end=s + len(name)) for s in starts]
    return Entity.model_validate(
        {"name": name, "type": type_, "mentions": mentions, "count": len(mentions)}
    )
