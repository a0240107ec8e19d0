"""clean stage, html input: junk and oversized pages turned away before parsing, encodings
repaired, extraction bounded in time per page, and nothing a page names ever fetched.

On fetching: a page may reference images, stylesheets, frames, scripts, a meta refresh, an
external DTD or an XML external entity. The stage must treat all of them as text: a local HTTP
server started here must see no request, and the content of a local file named by an entity
must not appear.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsflow.config import Settings
from schemas.articles import CleanArticle, RawArticle
from workers.clean.extract import MAX_HTML_CHARS, MAX_TEXT_CHARS, ExtractionTimeout
from workers.clean.stage import CleanStage
from workers.runtime.batch import Result
from workers.runtime.offline import run_offline
from workers.stage import Fail, Skip
from workers.topology import STAGES

from .samples import MENU_ONLY, PAGE, PARAGRAPHS, TEXT, URL, clean_one, emitted


def test_junk_html_is_skipped_with_its_reason_not_failed(stage: CleanStage) -> None:
    cases = {
        "<<<>>>": "not-html",
        "\x00\x01\x02 binary": "binary",
        "<p>" * 10_000: "not-article",
        "<html></html>": "not-article",
        MENU_ONLY: "not-article",
    }
    for junk, reason in cases.items():
        outcome = clean_one(stage, url=URL, html=junk)
        assert isinstance(outcome, Skip) and outcome.reason == reason, (junk[:20], outcome)


def test_too_large_html_is_skipped_unless_there_is_text(stage: CleanStage) -> None:
    huge = "<html><body>" + "<p>word</p>" * (MAX_HTML_CHARS // 11 + 1) + "</body></html>"
    outcome = clean_one(stage, url=URL, html=huge)
    assert isinstance(outcome, Skip) and outcome.reason == "too-large"

    article = emitted(clean_one(stage, url=URL, html=huge, text=TEXT))
    assert article.body == TEXT

def test_oversized_page_is_judged_without_its_scripts(stage: CleanStage) -> None:
    # Over the cap only because of inline scripts: stripped before parsing, then extracted.
    bundle = "<script>" + "var x = 1;" * (MAX_HTML_CHARS // 10) + "</script>"
    page = PAGE.replace("</head>", bundle + "</head>")
    assert len(page) > MAX_HTML_CHARS
    assert emitted(clean_one(stage, url=URL, html=page)).body == "\n\n".join(PARAGRAPHS)

    outcome = clean_one(stage, url=URL, text="word " * (MAX_TEXT_CHARS // 5 + 1))
    assert isinstance(outcome, Skip) and outcome.reason == "too-large"


def test_wrong_or_undeclared_encoding_is_repaired(stage: CleanStage) -> None:
    # UTF-8 bytes read as cp1252 by a crawler that trusted a wrong charset: mojibake.
    story = "Le café de la gare rouvre lundi après des travaux très attendus. " * 4
    garbled = story.encode("utf-8").decode("cp1252")
    assert "cafÃ©" in garbled
    for charset in ('<meta charset="windows-1252">', ""):  # wrong, and undeclared
        page = f"<html><head>{charset}</head><body><article><p>{garbled}</p></article></body>"
        article = emitted(clean_one(stage, url=URL, html=page))
        assert article.body == story.strip()
        assert article.language == "fr"


def test_extraction_over_its_time_limit_fails_alone_and_the_stage_goes_on() -> None:
    stage = CleanStage(min_words=20, time_limit=1e-6)  # no page parses in a microsecond
    try:
        slow, text, _ = stage.process(
            [
                RawArticle(url=URL, html=PAGE),
                RawArticle(url=URL, text=TEXT),
                RawArticle(url=URL, html=PAGE),
            ]
        )
        assert isinstance(slow, Fail) and isinstance(slow.error, ExtractionTimeout)
        assert "took over" in str(slow.error)
        assert emitted(text).body == TEXT
        # The stuck child was replaced: with a sane limit, the next page extracts.
        stage.extract.time_limit = 20
        assert emitted(stage.process([RawArticle(url=URL, html=PAGE)])[0]).body.startswith(
            "The city council voted"
        )
    finally:
        stage.close()


# --- the parser never fetches what a page names, nor local files ----------------------------

BODY = (
    "The harbour authority said on Tuesday that the new container terminal would open in "
    "spring, after three years of construction and a long dispute over dredging permits."
)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"FETCHED-BY-THE-STAGE")

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _clean(html: str) -> list[Result]:
    line = json.dumps({"url": "https://example.org/harbour", "html": html}).encode()
    return run_offline(STAGES["clean"], Settings(min_words=5), [line])


def _body(results: list[Result]) -> str:
    assert [r.kind for r in results] == ["emitted"], results
    output = results[0].output
    assert isinstance(output, CleanArticle)
    return output.body


def test_resources_named_in_the_page_are_never_fetched(server: tuple[str, list[str]]) -> None:
    base, seen = server
    html = f"""<!DOCTYPE html SYSTEM "{base}/doctype.dtd">
<html><head>
  <meta http-equiv="refresh" content="0; url={base}/refresh">
  <link rel="stylesheet" href="{base}/style.css">
  <link rel="preload" href="{base}/preload.js" as="script">
  <script src="{base}/script.js"></script>
  <base href="{base}/base/">
</head><body>
  <article>
    <h1>New terminal</h1>
    <img src="{base}/img.png" srcset="{base}/img-2x.png 2x">
    <p>{BODY}</p>
    <iframe src="{base}/frame.html"></iframe>
    <object data="{base}/object.swf"></object>
    <video poster="{base}/poster.jpg"><source src="{base}/video.mp4"></video>
    <p style="background: url({base}/bg.png)">{BODY}</p>
  </article>
</body></html>"""
    body = _body(_clean(html))
    assert "new container terminal" in body
    assert "FETCHED-BY-THE-STAGE" not in body
    assert seen == []  # not one request reached the server


def test_xml_external_entities_are_not_resolved(
    tmp_path: Path, server: tuple[str, list[str]]
) -> None:
    base, seen = server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")
    html = f"""<?xml version="1.0"?>
<!DOCTYPE html [
  <!ENTITY xxe SYSTEM "file://{secret}">
  <!ENTITY remote SYSTEM "{base}/entity">
  <!ENTITY % param SYSTEM "{base}/param.dtd"> %param;
]>
<html><body><article><p>{BODY} &xxe; &remote;</p><p>{BODY}</p></article></body></html>"""
    results = _clean(html)
    everything = json.dumps([r.output.model_dump(mode="json") if r.output else None
                             for r in results]) + repr(results)
    assert "TOP-SECRET-FILE-CONTENT" not in everything
    assert "FETCHED-BY-THE-STAGE" not in everything
    assert seen == []
    assert "container terminal" in _body(results)  # the page itself was still cleaned


def test_the_recorder_does_see_a_request(server: tuple[str, list[str]]) -> None:
    """The check above is not vacuous: a real fetch of the same server is recorded."""
    base, seen = server
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}/probe", timeout=5) as response:
        assert response.read() == b"FETCHED-BY-THE-STAGE"
    assert seen == ["/probe"]
