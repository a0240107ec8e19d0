"""The CoreNLP component's own logic, without a server: the server's spans into spaCy's
``doc.ents``, offsets from UTF-16 to code points, labels, long texts in pieces, and what an
outage raises.
The server itself is exercised in tests/integration/test_entities_corenlp.py."""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Sequence
from typing import Any

import pytest
import spacy

from workers.entities import corenlp
from workers.entities.corenlp import (
    MAX_REQUEST_CHARS,
    CoreNlpClient,
    CoreNlpError,
    CoreNlpNer,
    model_name,
    pieces,
    spans,
)
from workers.stage import TransientError


def test_spans_map_labels_and_ignore_others() -> None:
    text = "Ahmed al-Sharaa of Syria met Reuters staff."
    answer = {
        "model": "m",
        "spans": [[0, 15, "PERSON"], [19, 24, "LOCATION"], [29, 36, "ORGANIZATION"],
                  [37, 42, "DATE"]],
    }
    assert spans(answer, text) == [(0, 15, "PERSON"), (19, 24, "GPE"), (29, 36, "ORG")]


def test_utf16_offsets_become_code_points() -> None:
    # Java counts an emoji (outside the BMP) as two code units; Python as one character.
    text = "\U0001f600 Fans cheered. \U0001f3c6\U0001f3c6 Lionel Messi scored in Paris."
    java = text.encode("utf-16-le")

    def utf16(s: int, e: int) -> list[int]:  # code-point offsets -> Java's, as the server says
        return [len(text[:s].encode("utf-16-le")) // 2, len(text[:e].encode("utf-16-le")) // 2]

    messi = text.index("Lionel Messi")
    paris = text.index("Paris")
    answer = {"spans": [[*utf16(messi, messi + 12), "PERSON"],
                        [*utf16(paris, paris + 5), "LOCATION"]]}
    assert answer["spans"][0][0] == messi + 3  # three astral characters before it
    assert len(java) // 2 == len(text) + 3
    found = spans(answer, text)
    assert [text[s:e] for s, e, _ in found] == ["Lionel Messi", "Paris"]


def test_model_name_is_the_file_without_its_extensions() -> None:
    path = "edu/stanford/nlp/models/ner/english.conll.4class.distsim.crf.ser.gz"
    assert model_name(path) == "corenlp-english.conll.4class.distsim"
    assert model_name(None) == "corenlp"


class FixedClient(CoreNlpClient):
    """Answers from a table instead of a server: the component's span handling is under test."""

    def __init__(self, answers: dict[str, list[tuple[int, int, str]]]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.answers = answers
        self.calls: list[int] = []

    def spans(self, texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
        self.calls.append(len(texts))
        return [self.answers[t] for t in texts]


def test_component_snaps_spans_to_spacy_tokens_and_drops_overlaps() -> None:
    nlp = spacy.blank("en")
    text = "The U.S. envoy met Keir Starmer in London."
    us = text.index("U.S")
    answers = {
        # "U.S" without its dot (a tokenizer that splits it off) grows to spaCy's "U.S." token;
        # the overlapping second span loses to the longer first one.
        text: [(us, us + 3, "GPE"), (19, 31, "PERSON"), (24, 31, "ORG"), (35, 41, "GPE")],
        "Nothing here.": [],
    }
    client = FixedClient(answers)
    component = CoreNlpNer(client)
    docs = list(component.pipe(nlp.pipe([text, "Nothing here."]), batch_size=64))
    assert [(e.text, e.label_) for e in docs[0].ents] == [
        ("U.S.", "GPE"), ("Keir Starmer", "PERSON"), ("London", "GPE")
    ]
    assert docs[1].ents == ()
    assert client.calls == [2]  # one batch, one call


class EchoingServer(CoreNlpClient):
    """Stands in for the server's HTTP answer: names every "Ada Lovelace" in what it was sent,
    in UTF-16 offsets as the server does, and keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", concurrency=1)
        self.sent: list[str] = []

    def annotate(self, text: str) -> dict[str, Any]:
        self.sent.append(text)
        found = []
        for match in re.finditer("Ada Lovelace", text):
            begin = len(text[: match.start()].encode("utf-16-le")) // 2
            found.append([begin, begin + 12, "PERSON"])
        return {"spans": found}


def test_pieces_cover_the_text_cut_at_line_breaks_then_sentences_then_spaces() -> None:
    paragraph = "Ada Lovelace wrote notes. " * 30 + "\n"  # 781 characters
    text = paragraph * 10
    cut = pieces(text, 2_000)
    assert "".join(p for _, p in cut) == text
    assert [at for at, _ in cut] == [0, 1562, 3124, 4686, 6248]
    assert all(p.endswith("\n") for _, p in cut)  # two paragraphs a piece, cut after each pair
    one_line = paragraph.strip() * 10
    assert all(p.endswith(". ") and len(p) <= 2_000 for _, p in pieces(one_line, 2_000)[:-1])
    no_space = "x" * 5_000
    assert [len(p) for _, p in pieces(no_space, 2_000)] == [2_000, 2_000, 1_000]
    assert pieces("short", 2_000) == [(0, "short")]


def test_a_long_text_is_sent_in_pieces_and_offsets_still_hold() -> None:
    # Emoji count twice in Java's offsets: each piece's are mapped on the piece itself.
    paragraph = "\U0001f600 Fans cheered as Ada Lovelace spoke. " * 200 + "\n"
    text = paragraph * 3
    client = EchoingServer()
    [found] = client.spans([text])
    assert len(client.sent) > 1 and all(len(p) <= MAX_REQUEST_CHARS for p in client.sent)
    assert [(s, e) for s, e, _ in found] == [
        (m.start(), m.end()) for m in re.finditer("Ada Lovelace", text)
    ]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_an_unreachable_server_is_transient_with_a_hint() -> None:
    client = CoreNlpClient(f"http://127.0.0.1:{_closed_port()}", timeout=5)
    with pytest.raises(TransientError, match=r"unreachable.*newsflow stack up.*NER_BACKEND=spacy"):
        client.spans(["Lionel Messi scored."])


def test_a_doc_keeps_the_text_it_was_made_from() -> None:
    nlp = spacy.blank("en")
    text = "Ada Lovelace  wrote\nnotes. \U0001f600"
    doc = corenlp.make_doc(nlp, text)
    assert corenlp.text_of(doc) == text == doc.text
    assert corenlp.text_of(nlp("Made elsewhere.")) == "Made elsewhere."  # falls back to doc.text


class _ClosesEachConnection(http.server.BaseHTTPRequestHandler):
    """Answers one request per connection, then closes it without saying so: what the server
    does to a kept-alive connection left idle too long."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"spans": [[0, 3, "PERSON"]], "model": "m"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


def test_a_kept_connection_the_server_has_closed_is_replaced_and_the_text_resent() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ClosesEachConnection)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = CoreNlpClient(f"http://127.0.0.1:{server.server_address[1]}", concurrency=1)
    try:
        found = client.spans(["Ada spoke.", "Ada wrote.", "Ada left."])
    finally:
        server.shutdown()
        server.server_close()
    assert found == [[(0, 3, "PERSON")]] * 3
    # Each later text first went to the closed connection, then to a new one.
    assert client.connections_made == _ClosesEachConnection.connections == 3
    # The server gone: the kept connection fails, so does a new one: an outage, retried by the
    # runtime, not the text's fault.
    with pytest.raises(TransientError, match="unreachable"):
        client.spans(["Ada returned."])
    client.close()


class _Refuses(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status its path names: /503/ner -> 503."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"no thanks"
        self.send_response(int(self.path.split("/")[1]))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_overloaded_server_is_transient_and_a_refused_text_is_the_texts_fault() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(TransientError, match="HTTP 503 no thanks"):
            CoreNlpClient(f"{url}/503", concurrency=1).spans(["Ada spoke."])
        with pytest.raises(CoreNlpError, match="CoreNLP refused a text: HTTP 400 no thanks"):
            CoreNlpClient(f"{url}/400", concurrency=1).spans(["Ada spoke."])
    finally:
        server.shutdown()
        server.server_close()
