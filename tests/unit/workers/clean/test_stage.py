"""clean stage: the body chosen, metadata, language, skips, per-article failures, seeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import workers.clean.extract as extract_module
from flows.seeds import SEEDS_DIR, SeedError, seed_article
from newsflow.config import Settings
from schemas.articles import RawArticle, article_id
from workers.clean.extract import Page
from workers.clean.stage import NAME, VERSION, CleanStage
from workers.clean.text import primary_language
from workers.runtime.batch import BatchProcessor, Message
from workers.stage import Emit, Fail, Skip
from workers.topology import STAGES

from .samples import APP_SHELL, MENU_ONLY, PAGE, PARAGRAPHS, TEXT, URL, clean_one, emitted

ROOT = Path(__file__).resolve().parents[4]


# --- html ------------------------------------------------------------------------------------


def test_html_main_text_without_boilerplate_one_paragraph_per_block(stage: CleanStage) -> None:
    article = emitted(clean_one(stage, url=URL, html=PAGE))

    assert article.body == "\n\n".join(PARAGRAPHS)
    for junk in ("Home", "cookies", "Most read", "Weather warning", "rights reserved", "tracking"):
        assert junk not in article.body
    assert article.word_count == len(" ".join(PARAGRAPHS).replace("-", " ").split())


def test_html_metadata_fills_what_the_input_lacks(stage: CleanStage) -> None:
    article = emitted(clean_one(stage, url=URL, html=PAGE))

    # The h1 repeats the title, so the body starts with the first paragraph instead.
    assert article.title == "Council approves new bridge over the river"
    assert article.body.startswith("The city council voted")
    assert article.authors == ["Jane Doe"]
    assert article.published_at == datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    assert article.metadata == {"site_name": "The Daily Example"}
    assert article.source == "dailyexample.example"
    assert article.canonical_url == "https://dailyexample.example/news/2025/03/bridge"
    assert article.id == article_id(URL)
    assert article.language == "en"
    assert article.language_confidence is not None and article.language_confidence > 0.9
    assert article.versions == {NAME: VERSION}


def test_input_fields_win_over_page_metadata(stage: CleanStage) -> None:
    article = emitted(
        clean_one(
            stage,
            url=URL,
            html=PAGE,
            title="Bridge vote: council says yes",
            source="Daily Example",
            published_at="2025-03-11T10:00:00+01:00",
            authors=["Desk Editor"],
            section="local",
        )
    )
    assert article.title == "Bridge vote: council says yes"
    assert article.source == "Daily Example"
    assert article.published_at == datetime(2025, 3, 11, 9, 0, tzinfo=UTC)
    assert article.authors == ["Desk Editor"]
    # Unknown input fields travel on under metadata, next to what the page added.
    assert article.metadata["section"] == "local"
    assert article.metadata["site_name"] == "The Daily Example"


def test_page_date_without_offset_is_taken_as_utc(stage: CleanStage) -> None:
    page = PAGE.replace("2025-03-10T08:30:00+00:00", "2025-03-10")
    article = emitted(clean_one(stage, url=URL, html=page))
    assert article.published_at == datetime(2025, 3, 10, tzinfo=UTC)


def test_text_is_the_fallback_when_html_yields_too_little(stage: CleanStage) -> None:
    for html in (APP_SHELL, MENU_ONLY):
        article = emitted(clean_one(stage, url=URL, html=html, text=TEXT))
        assert article.body == TEXT

# --- language --------------------------------------------------------------------------------


def test_given_language_is_kept_as_primary_subtag_without_confidence(stage: CleanStage) -> None:
    article = emitted(clean_one(stage, url=URL, text=TEXT, language="EN-gb"))
    assert (article.language, article.language_confidence) == ("en", None)
    assert primary_language("pt_BR") == "pt"
    assert primary_language(" ") is None


def test_language_is_detected_with_a_probability(stage: CleanStage) -> None:
    text = (
        "Le conseil municipal a voté lundi la construction d'une nouvelle passerelle au-dessus "
        "du fleuve, mettant fin à un débat qui durait depuis près de dix ans entre les habitants "
        "et les commerçants du quartier."
    )
    article = emitted(clean_one(stage, url=URL, text=text))
    assert article.language == "fr"
    assert article.language_confidence is not None and article.language_confidence > 0.9

# --- skips and failures ----------------------------------------------------------------------


def test_skip_reasons(stage: CleanStage) -> None:
    cases = {
        "not-article": {"url": URL, "html": APP_SHELL},
        "empty": {"url": URL, "text": "Share this article"},
        "too-short": {"url": URL, "text": "Only five words in here."},
    }
    for reason, fields in cases.items():
        outcome = clean_one(stage, **fields)
        assert isinstance(outcome, Skip) and outcome.reason == reason, (reason, outcome)


def test_one_failing_article_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: str, url: str) -> Page:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(extract_module, "extract_page", broken)
    # In-process extraction, so that the patch applies (the child process would not see it).
    stage = CleanStage(min_words=20, time_limit=None)
    batch = [
        RawArticle(url="https://a.example/1", text=TEXT),
        RawArticle(url="https://b.example/2", html=PAGE),
        RawArticle(url="https://c.example/3", text=TEXT),
    ]
    first, second, third = stage.process(batch)
    assert isinstance(first, Emit) and isinstance(third, Emit)
    assert isinstance(second, Fail) and str(second.error) == "parser exploded"


# --- seeds -----------------------------------------------------------------------------------


def test_seed_articles_all_come_through(stage: CleanStage) -> None:
    lines = (SEEDS_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    raws = [RawArticle.model_validate(json.loads(line)) for line in lines if line]
    articles = [emitted(outcome) for outcome in stage.process(raws)]

    by_source = {a.source: a for a in articles}
    assert by_source["lemondial.example"].language == "fr"
    assert all(a.language == "en" for a in articles if a.source != "lemondial.example")
    assert all("utm_" not in a.canonical_url for a in articles)
    glaciers = by_source["alpinetimes.example"]  # the seed that comes as html
    assert glaciers.body.startswith("Switzerland's glaciers lost four percent")
    assert "\n\n" in glaciers.body and "\n\n\n" not in glaciers.body


def test_seed_article(stage: CleanStage) -> None:
    shared = ROOT / Settings().shared_dir
    try:
        raw = RawArticle.model_validate(seed_article(shared))
    except SeedError:
        pytest.fail(f"the seed article needs the shared data (NEWSFLOW_SHARED_DIR): {shared}")
    article = emitted(clean_one(stage, **raw.model_dump()))

    assert article.title == (
        "Iraq stands by Syria in its security, stability, unity among its people: Official"
    )
    assert article.body.startswith(
        "Iraq's National Security Adviser Qasim al-Araji has said his country stands by"
    )
    # The source credit glued to the first word is split off and kept as metadata.
    assert "\nAl-Araji's remarks came late Sunday" in article.body
    assert "cumhuriyet" not in article.body
    assert article.metadata["credits"] == ["cumhuriyet.com.tr"]
    assert article.body.endswith("was declared president for a transitional period on Jan. 29.")
    assert article.source == "Anadolu Agency"
    assert (article.language, article.language_confidence) == ("en", None)
    assert article.published_at == datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
    assert article.metadata["seed"] is True
    assert 340 < article.word_count < 360

# --- line rules and credits, through the stage -----------------------------------------------


def test_glued_credit_goes_to_metadata(stage: CleanStage) -> None:
    text = f"{PARAGRAPHS[0]}\nagency.example.comThe vote was close.\n{PARAGRAPHS[1]}"
    article = emitted(clean_one(stage, url=URL, text=text, credits=["Desk"]))
    assert article.body == f"{PARAGRAPHS[0]}\nThe vote was close.\n{PARAGRAPHS[1]}"
    assert article.metadata["credits"] == ["Desk", "agency.example.com"]


def test_boilerplate_inside_an_html_article_is_removed(stage: CleanStage) -> None:
    page = PAGE.replace(
        f"<p>{PARAGRAPHS[1]}</p>",
        f"<p>Read more: Ten bridges that changed their cities</p><p>{PARAGRAPHS[1]}</p>"
        "<p>Follow us on Twitter</p><p>Photo: Jane Doe/Example Agency</p>",
    )
    article = emitted(clean_one(stage, url=URL, html=page))
    assert article.body == "\n\n".join(PARAGRAPHS)
    assert article.metadata["credits"] == ["Photo: Jane Doe/Example Agency"]

# --- bad input: each gives a reason, in bounded time, and the worker goes on ------------------


def run_clean(values: list[bytes | None], max_bytes: int = 5 * 1024 * 1024) -> list[tuple]:
    """(kind, reason) of each message through the worker's own decode/validate/process."""
    stage = CleanStage(min_words=20)
    try:
        results = BatchProcessor(STAGES["clean"], stage, max_bytes).run(
            [Message(value, offset=n) for n, value in enumerate(values)]
        )
    finally:
        stage.close()
    return [(r.kind, r.reason) for r in results]


def raw_json(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_bad_messages_get_a_reason_and_good_ones_still_pass() -> None:
    good = raw_json(url=URL, html=PAGE)
    huge_page = "<html><body>" + "<p>word</p>" * (20 * 1024 * 1024 // 11) + "</body></html>"
    results = run_clean(
        [
            b"",  # empty payload
            raw_json(url=URL, html="   "),  # empty html and no text
            bytes(range(256)) * 64,  # binary data, not even JSON
            raw_json(url=URL, html=bytes(range(256)).decode("latin-1") * 64),  # binary as html
            # Not UTF-8: a producer that wrote latin-1.
            json.dumps({"url": URL, "text": "café " * 30}, ensure_ascii=False).encode("latin-1"),
            raw_json(url=URL, html=huge_page),  # a 20 MB page: over the message limit
            raw_json(url=URL, html='{"not": "html", "but": ["json"]}'),  # non-HTML as html
            raw_json(url=URL, html="%PDF-1.7 obj stream endobj trailer"),
            raw_json(url=URL, html=APP_SHELL),  # HTML with no article
            good,
        ]
    )
    assert results == [
        ("dead", "empty-message"),
        ("dead", "invalid"),
        ("dead", "not-json"),
        ("skipped", "binary"),
        ("dead", "not-json"),
        ("dead", "too-large"),
        ("skipped", "not-html"),
        ("skipped", "not-html"),
        ("skipped", "not-article"),
        ("emitted", None),
    ]
