"""The messages that travel between stages: one pydantic model per topic, JSON on the wire.

news.raw      -> RawArticle       (anyone may publish; unknown fields kept under ``metadata``)
news.clean    -> CleanArticle     (clean stage)
news.deduped  -> DedupedArticle   (dedup stage)
news.enriched -> EnrichedArticle  (entities stage)
news.storied  -> StoriedArticle   (stories stage)
Elasticsearch -> IndexDocument    (index stage; ``_id`` is the article id)

Each model extends the one before it, so an article keeps everything it gathered on the way.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

# Query parameters that identify a campaign or a click, never the page itself.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "ref", "ref_src", "cmpid"}


@lru_cache(maxsize=4096)  # asked up to four times per article (id, canonical, source, runtime)
def canonical_url(url: str) -> str:
    """Normalise a URL so that one page has one spelling.

    Lower-cases scheme and host, drops ``www.``, default ports, the fragment, tracking
    parameters and a trailing slash; sorts the remaining query parameters.
    """
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:  # not a port: an invalid URL, kept with a stable id all the same
        port, host = None, parts.netloc.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


# Articles are web pages (and, for `newsflow publish` of a local folder, files).
ARTICLE_URL_SCHEMES = ("http", "https", "file")
# A host name: letters (IDN too), digits, hyphens, underscores, dots; or an IP literal.
_HOST = re.compile(r"^(?:[^\W_][\w-]*\.)*[^\W_][\w-]*\.?$|^[0-9a-f:.]+$", re.IGNORECASE)
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def check_article_url(url: str) -> str:
    """The URL of an article, stripped of surrounding whitespace; ValueError says why not.

    Accepted: absolute ``http``/``https`` URLs with a host, and ``file:`` URLs with a path
    (the local-folder publisher). Refused: every other scheme (``javascript:``, ``data:``,
    ``ftp:``, ...), relative and scheme-relative URLs, whitespace or control characters
    inside, a missing or malformed host or port, and credentials (``user:pass@``): refused,
    not stripped, since they would travel to the index and be shown in every search.
    """
    url = url.strip()
    if _SPACE_OR_CONTROL.search(url):
        raise ValueError("URL contains whitespace or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError("relative URL: an article's URL must be absolute (http or https)")
    if scheme not in ARTICLE_URL_SCHEMES:
        raise ValueError(f"scheme '{scheme}:' is not an article's (http, https, or file)")
    if "@" in parts.netloc:
        raise ValueError("URL carries credentials (user:password@host): refused")
    if scheme == "file":
        if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
            raise ValueError("file URL needs an absolute local path (file:///...)")
        return url
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise ValueError(f"bad port in URL: {exc}") from None
    if not parts.hostname or not _HOST.match(parts.hostname):
        raise ValueError(f"URL has no valid host: {parts.netloc or '(none)'}")
    return url


def article_id(url: str) -> str:
    """Stable id of an article: a hash of its canonical URL (Kafka key and Elasticsearch _id)."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:20]


def source_of(url: str) -> str:
    """The publishing domain of a URL, without ``www.``."""
    return (urlsplit(canonical_url(url)).hostname or "").lower()


class _Wire(BaseModel):
    """Base of every wire model: strict about our own fields, JSON in and out."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")


class RawArticle(_Wire):
    """One article as published to ``news.raw`` by a crawler, feed, archive or person.

    ``url`` is required (an absolute http/https URL, see :func:`check_article_url`), and at
    least one of ``text`` and ``html``. Fields this model does not know are moved under
    ``metadata`` instead of being rejected, and travel to the index.
    """

    url: str = Field(min_length=1)
    title: str | None = None
    text: str | None = None
    html: str | None = None
    source: str | None = None
    published_at: AwareDatetime | None = None
    language: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _article_url(cls, url: str) -> str:
        return check_article_url(url)

    @model_validator(mode="before")
    @classmethod
    def _collect_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            extra = {k: v for k, v in data.items() if k not in known}
            if extra:
                data = {k: v for k, v in data.items() if k in known}
                data["metadata"] = {**extra, **(data.get("metadata") or {})}
        return data

    @model_validator(mode="after")
    def _needs_content(self) -> RawArticle:
        if not (self.text and self.text.strip()) and not (self.html and self.html.strip()):
            raise ValueError("an article needs 'text' or 'html'")
        return self

    @property
    def id(self) -> str:
        return article_id(self.url)


class CleanArticle(_Wire):
    """A cleaned article: main text, normalised, with metadata and language."""

    id: str
    url: str
    canonical_url: str
    source: str
    title: str | None = None
    body: str
    authors: list[str] = Field(default_factory=list)
    published_at: AwareDatetime | None = None
    language: str | None = None
    language_confidence: float | None = None
    word_count: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(
        default_factory=dict, description="version of each stage that produced this article"
    )


class DedupedArticle(CleanArticle):
    """A cleaned article placed in its story cluster."""

    cluster_id: str
    is_duplicate: bool = False
    duplicate_of: str | None = None
    similarity: float | None = None
    duplicate_kind: Literal["exact", "near"] | None = None
    text_hash: str


class Mention(BaseModel):
    start: int
    end: int


class Entity(BaseModel):
    name: str
    type: Literal["person", "organization", "location", "misc"]
    mentions: list[Mention] = Field(default_factory=list)
    count: int


class EnrichedArticle(DedupedArticle):
    """A deduplicated article with its named entities and entity facets."""

    entities: list[Entity] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    entities_model: str | None = None
    entities_skipped: str | None = Field(
        None, description="why entities were not extracted (e.g. 'no-model:fr'), if not"
    )


class StoriedArticle(EnrichedArticle):
    """An enriched article placed in its story: the same event, however each outlet told it."""

    story_id: str
    story_score: float = Field(description="similarity to the story when it joined; 1.0 founder")
    story_vector: list[float] = Field(description="hashed word weights (workers/stories/vectors)")


class IndexDocument(BaseModel):
    """The document stored in Elasticsearch under ``_id = id`` (see schemas/es/)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    url: str
    canonical_url: str
    source: str
    title: str | None = None
    body: str
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    language_confidence: float | None = None
    word_count: int
    cluster_id: str
    is_duplicate: bool
    duplicate_of: str | None = None
    similarity: float | None = None
    story_id: str | None = None  # None only in documents carried over from before mapping 4
    story_score: float | None = None
    story_vector: list[float] | None = None
    entities: list[Entity] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    entities_model: str | None = None
    entities_skipped: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    indexed_at: datetime
    # The title and body again under the article's language, for that language's analyser
    # (news-v3.json): {"es": {"title": ..., "body": ...}}; None (left out) for English and for
    # languages without an analyser, so such documents also fit an index of mapping 2.
    localized: dict[str, dict[str, str | None]] | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")


# Languages with analysed fields of their own in the news index (news-v3.json, ``localized``);
# English is analysed in ``title`` and ``body`` themselves.
LOCALIZED_LANGUAGES = ("fr", "de", "es", "nl", "it")


def localized(
    language: str | None, title: str | None, body: str
) -> dict[str, dict[str, str | None]]:
    """The ``localized`` field of a document in ``language`` (empty unless it is one of
    :data:`LOCALIZED_LANGUAGES`)."""
    if language not in LOCALIZED_LANGUAGES:
        return {}
    return {language: {"title": title, "body": body}}


class SkipRecord(_Wire):
    """Written to ``news.skipped`` when a stage decides an article is not worth keeping."""

    id: str | None
    url: str | None
    stage: str
    reason: str
    detail: str | None = None
    at: datetime
