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
        {"url": "u", "text": "x", "published_at": "2025-03-04T08:30:00Z"})
    assert ok.published_at is not None and ok.published_at.year == 2025
    with pytest.raises(ValidationError):
        RawArticle.model_validate({"url": "u", "text": "x", "published_at": "yesterday"})
