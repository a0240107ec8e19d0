import re

import pytest
from pydantic import ValidationError

from schemas.articles import RawArticle, article_id, canonical_url, source_of


def test_canonical_url_drops_tracking_fragment_www_and_sorts_query():
    url = "HTTPS://www.Example.com:443/a/b/?utm_source=x&b=2&a=1&fbclid=zz#part"
    assert canonical_url(url) == "https://example.com/a/b?a=1&b=2"


def test_article_id_is_stable_across_spellings_of_one_page():
    a = article_id("https://www.example.com/story?utm_medium=rss")
    b = article_id("https://example.com/story/#comments")
    assert a == b and len(a) == 20
    assert article_id("https://example.com/other") != a


def test_source_is_the_domain_without_www():
    assert source_of("https://www.bbc.co.uk/news/1") == "bbc.co.uk"


def test_unknown_fields_are_kept_under_metadata():
    raw = RawArticle.model_validate(
        {"url": "https://e.com/1", "text": "body", "section": "world", "tags": ["a"],
         "metadata": {"feed": "rss"}}
    )
    assert raw.metadata == {"section": "world", "tags": ["a"], "feed": "rss"}


def test_url_is_required():
    with pytest.raises(ValidationError, match="url"):
        RawArticle.model_validate({"title": "t", "text": "body"})


def test_text_or_html_is_required():
    with pytest.raises(ValidationError, match="'text' or 'html'"):
        RawArticle.model_validate({"url": "https://e.com/1", "title": "t", "text": "  "})


def test_published_at_must_be_iso_8601_with_zone():
    ok = RawArticle.model_validate(
        {"url": "https://e.com/u", "text": "x", "published_at": "2025-03-04T08:30:00Z"})
    assert ok.published_at is not None and ok.published_at.year == 2025
    with pytest.raises(ValidationError):
        RawArticle.model_validate(
            {"url": "https://e.com/u", "text": "x", "published_at": "yesterday"})


def test_one_pass_json_validation_reads_every_wire_model_as_two_steps_do():
    # The runtime validates with model_validate_json; the models must read a message exactly as
    # json.loads + model_validate would (dates, nested entities, unknown fields to metadata).
    import json

    from schemas.articles import EnrichedArticle

    raw = {"url": "https://www.example.com/a?utm_source=x", "title": "Café", "text": "Body",
           "published_at": "2025-03-04T08:30:00+01:00", "feed": "rss", "metadata": {"k": [1]}}
    enriched = {"id": "i", "url": "https://e.com/1", "canonical_url": "https://e.com/1",
                "source": "e.com", "body": "Ada Lovelace wrote.", "word_count": 3,
                "cluster_id": "c", "text_hash": "h", "similarity": 0.9, "is_duplicate": True,
                "duplicate_kind": "near", "published_at": "2025-03-04T08:30:00Z",
                "entities": [{"name": "Ada Lovelace", "type": "person", "count": 1,
                              "mentions": [{"start": 0, "end": 12}]}],
                "persons": ["Ada Lovelace"], "versions": {"clean": "1"}}
    for model, data in ((RawArticle, raw), (EnrichedArticle, enriched)):
        value = json.dumps(data, ensure_ascii=False).encode()
        assert model.model_validate_json(value) == model.model_validate(json.loads(value))


# What people try as an article URL, and why each is refused (issue: script URLs indexed).
REFUSED_URLS = {
    "javascript:alert(1)": "scheme 'javascript:'",
    "JavaScript:alert(document.cookie)": "scheme 'javascript:'",
    " javascript:alert(1)": "scheme 'javascript:'",
    "data:text/html,<script>alert(1)</script>": "scheme 'data:'",
    "ftp://example.org/a.txt": "scheme 'ftp:'",
    "mailto:desk@example.org": "scheme 'mailto:'",
    "/news/2025/a": "relative URL",
    "news/2025/a": "relative URL",
    "example.org/news/a": "relative URL",
    "//example.org/news/a": "relative URL",
    "https://exa mple.org/a": "whitespace or control",
    "https://example.org/a b": "whitespace or control",
    "https://example.org/a\tb": "whitespace or control",
    "java\nscript:alert(1)": "whitespace or control",
    "https://user:secret@example.org/a": "credentials",
    "https://token@example.org/a": "credentials",
    "https://": "no valid host",
    "http:///etc/passwd": "no valid host",
    "https:example.org": "no valid host",
    "https://exa<script>mple.org/": "no valid host",
    "https://example.org:99999/a": "bad port",
    "file://server/share/a.txt": "absolute local path",
}


@pytest.mark.parametrize("url", sorted(REFUSED_URLS))
def test_only_absolute_web_urls_are_articles(url: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(REFUSED_URLS[url])):
        RawArticle.model_validate({"url": url, "text": "x"})


@pytest.mark.parametrize(("url", "kept"), [
    ("https://example.org/a", "https://example.org/a"),
    ("  http://example.org/a?b=1#c \n", "http://example.org/a?b=1#c"),  # stripped, kept
    ("https://例え.jp/ニュース", "https://例え.jp/ニュース"),
    ("https://[2001:db8::1]:8443/a", "https://[2001:db8::1]:8443/a"),
    ("file:///home/me/pages/a.html", "file:///home/me/pages/a.html"),
])
def test_web_and_local_file_urls_are_articles(url: str, kept: str) -> None:
    assert RawArticle.model_validate({"url": url, "text": "x"}).url == kept


def test_an_invalid_url_still_has_a_stable_id() -> None:
    # The audit and the publisher name every raw message by the id of its URL, good or not.
    assert article_id("https://example.org:99999/a") == article_id("https://example.org:99999/a")
