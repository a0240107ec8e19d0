"""Stanford CoreNLP's CRF name tagger as a spaCy pipeline component, over HTTP (httpx).

In: spaCy Docs. Out: the same Docs with ``doc.ents`` set to the names that our loopback server
(``stack/corenlp/NerServer.java``, at ``settings.corenlp_url``; ``newsflow stack up`` starts it)
finds with CoreNLP's model for the text's language (English: CoNLL-2003; German: GermEval
2014; Spanish: AnCora), so every rule after the model reads them as it would
spaCy's. The server counts offsets in UTF-16 code units (Java strings): they are mapped back to
Python's code points. Why CoreNLP and not a bigger spaCy model: docs/stages/entities.md.

A long text is sent in pieces of at most ``MAX_REQUEST_CHARS``, cut at a line break where there
is one: the server holds a whole request's tokens at once, and refuses a text over 100,000
characters so that its heap never runs out (it tags overlong "words" as spaces for the same
reason; see NerServer.java).

Failures: the server unreachable or overloaded (503), or a request timing out while the server
no longer answers ``/ready``, raises ``TransientError``: the runtime retries the batch, nothing
is dead-lettered for an outage. Any other refusal of one text (HTTP 4xx/5xx), or a timeout
while the server is up, raises ``CoreNlpError`` for that batch, and the runtime's one-by-one
re-run then dead-letters only the article that causes it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

import httpx
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from workers.io.health import corenlp_ready
from workers.stage import TransientError

COMPONENT = "corenlp_ner"
# CoNLL labels to the spaCy labels the entities stage reads.
LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "ORGANIZATION": "ORG",
    "LOCATION": "GPE",
    "MISC": "MISC",
    # Our own models (scripts/train_ner.py) keep the CoNLL-2002 names.
    "PER": "PERSON",
    "ORG": "ORG",
    "LOC": "GPE",
}
# Statuses that mean "the server is busy or going away", not "this text is bad".
_RETRYABLE = {408, 429, 502, 503, 504}
# A news article is rarely longer (the server's limit is 100,000).
MAX_REQUEST_CHARS = 20_000
_HEADERS = {"Content-Type": "text/plain; charset=utf-8"}
# Where to cut a piece, best first: a line break, then a sentence end, then any space.
_CUTS = (re.compile(r"\n"), re.compile(r"[.!?]\s"), re.compile(r"\s"))
_TEXT = "newsflow.text"  # Doc.user_data key of the text a Doc was made from


def make_doc(nlp: Language, text: str) -> Doc:
    """``nlp.make_doc(text)`` that keeps ``text`` for :func:`text_of`."""
    doc = nlp.make_doc(text)
    doc.user_data[_TEXT] = text
    return doc


def text_of(doc: Doc) -> str:
    """``doc.text``, without rebuilding it from a Token object per token (costly, for a text
    the stage had in hand; docs/stages/entities.md has the profile)."""
    text = doc.user_data.get(_TEXT)
    return text if isinstance(text, str) else doc.text


class CoreNlpError(RuntimeError):
    """The server refused one text (not an outage): the article is dead-lettered."""


def spans(answer: dict[str, Any], text: str) -> list[tuple[int, int, str]]:
    """(start, end, spaCy label) of each name in the server's answer for ``text``, offsets in
    Python code points; labels other than the CoNLL four are ignored."""
    to_py = _utf16_to_py(text)
    return [
        (to_py(begin), to_py(end), LABELS[label])
        for begin, end, label in answer["spans"]
        if label in LABELS
    ]


def model_name(model: str | None) -> str:
    """The name recorded as ``entities_model``: "corenlp-english.conll.4class.distsim" for
    the model the server named (the local stack's: newsflow/stack/pins.py)."""
    if model is None:  # the server has not answered yet
        return "corenlp"
    return "corenlp-" + model.rsplit("/", 1)[-1].removesuffix(".ser.gz").removesuffix(".crf")


def _utf16_to_py(text: str) -> Callable[[int], int]:
    """A function from UTF-16 offsets into ``text`` to code-point offsets."""
    if text.isascii() or all(ord(c) <= 0xFFFF for c in text):
        return lambda i: i
    table: list[int] = []
    for index, char in enumerate(text):
        table += [index] * (2 if ord(char) > 0xFFFF else 1)
    table.append(len(text))
    return lambda i: table[min(i, len(table) - 1)]


def pieces(text: str, limit: int = MAX_REQUEST_CHARS) -> list[tuple[int, str]]:
    """``text`` as (offset, piece) pairs of at most ``limit`` characters, cut in the second half
    of each window at its last line break, else sentence end, else space (else anywhere)."""
    out: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > limit:
        end = start + limit
        for cut in _CUTS:
            found = [m.end() for m in cut.finditer(text, start + limit // 2, end)]
            if found:
                end = found[-1]
                break
        out.append((start, text[start:end]))
        start = end
    out.append((start, text[start:]))
    return out


class CoreNlpClient:
    """Annotates texts on a CoreNLP server, ``concurrency`` requests at a time, on kept-alive
    connections (an ``httpx.Client``'s pool: a new TCP connection per request was a large
    share of the client's CPU; docs/stages/entities.md has the figure)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60,
        concurrency: int = 2,
        max_chars: int = MAX_REQUEST_CHARS,
        language: str = "en",
    ) -> None:
        self.url = url
        # The server holds one model per language (NerServer.java); English is its default.
        self._ner_url = f"{url.rstrip('/')}/ner?lang={language}"
        self.model: str | None = None  # the model the server says it ran, once it has answered
        self.timeout = timeout  # of one request, read when it is sent
        self.concurrency = concurrency
        self.max_chars = max_chars  # of one request
        self._connections = 0  # for tests: requests share kept-alive connections
        self._lock = threading.Lock()
        # Loopback, never through a proxy: trust_env=False ignores HTTP(S)_PROXY.
        self._http = httpx.Client(
            headers=_HEADERS,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=concurrency),
        )

    @property
    def connections_made(self) -> int:
        """TCP connections opened so far."""
        return self._connections

    def annotate(self, text: str) -> dict[str, Any]:
        # A lone surrogate (no JSON parse lets one in, but a str may hold one) becomes "?": one
        # code unit either way, so offsets hold.
        body = text.encode("utf-8", "replace")
        try:
            response = self._post(body)
        except httpx.TimeoutException:
            if corenlp_ready(self.url):
                # Up, and still no answer for this text: the text's fault, not an outage.
                raise CoreNlpError(
                    f"CoreNLP gave no answer for a text of {len(text)} characters within "
                    f"{self.timeout:g} s"
                ) from None
            raise self._unreachable("no answer, and /ready does not answer either") from None
        except httpx.TransportError as error:
            raise self._unreachable(str(error) or type(error).__name__) from None
        status = response.status_code
        if status >= 300:
            detail = response.content[:300].decode("utf-8", "replace").strip()
            if status in _RETRYABLE:
                raise TransientError(f"CoreNLP at {self.url}: HTTP {status} {detail}")
            raise CoreNlpError(f"CoreNLP refused a text: HTTP {status} {detail}")
        answer: dict[str, Any] = json.loads(response.content)
        self.model = answer.get("model", self.model)
        return answer

    def _post(self, body: bytes) -> httpx.Response:
        try:
            return self._send(body)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # The server closes a connection left idle (the JDK's HTTP server: after 30-45 s);
            # the pool drops one it sees closed, but a close that crosses our request shows
            # here, before any answer. Tagging is idempotent: send it once more (a server that
            # is gone then fails to connect: an outage).
            return self._send(body)

    def _send(self, body: bytes) -> httpx.Response:
        return self._http.post(self._ner_url, content=body, timeout=self.timeout,
                               extensions={"trace": self._trace})

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            with self._lock:
                self._connections += 1

    def _unreachable(self, reason: str) -> TransientError:
        return TransientError(
            f"CoreNLP unreachable at {self.url}: {reason} (`newsflow stack up` starts it; "
            "NEWSFLOW_NER_BACKEND=spacy runs English NER without it)"
        )

    def close(self) -> None:
        """Close the kept-alive connections; the client is not used after this."""
        self._http.close()

    def spans(self, texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
        # Every piece of every text in one pool: a long article does not hold up the batch.
        cut = [(n, at, p) for n, t in enumerate(texts) for at, p in pieces(t, self.max_chars)]
        if len(cut) <= 1 or self.concurrency <= 1:
            annotations = [self.annotate(piece) for _, _, piece in cut]
        else:
            with ThreadPoolExecutor(self.concurrency) as pool:
                annotations = list(pool.map(self.annotate, [piece for _, _, piece in cut]))
        found: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        for (n, at, piece), answer in zip(cut, annotations, strict=True):
            found[n] += [(at + b, at + e, label) for b, e, label in spans(answer, piece)]
        return found


class CoreNlpNer:
    """``doc.ents`` from the CoreNLP server, in place of spaCy's ``ner``."""

    def __init__(self, client: CoreNlpClient) -> None:
        self.client = client

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        docs = iter(docs)
        while chunk := list(islice(docs, batch_size)):
            texts = [text_of(doc) for doc in chunk]
            for doc, found in zip(chunk, self.client.spans(texts), strict=True):
                ents: list[Span] = []
                for start, end, label in found:
                    # spaCy tokenises differently: snap to its tokens ("U.S." vs "U.S" + ".").
                    span = doc.char_span(start, end, label=label, alignment_mode="expand")
                    if span is not None:
                        ents.append(span)
                doc.ents = filter_spans(ents)
                yield doc


@Language.factory(
    COMPONENT,
    default_config={"url": "http://127.0.0.1:9000", "timeout": 60.0, "concurrency": 2,
                    "language": "en"},
)
def make_corenlp_ner(
    nlp: Language, name: str, url: str, timeout: float, concurrency: int, language: str
) -> CoreNlpNer:
    return CoreNlpNer(CoreNlpClient(url, timeout=timeout, concurrency=concurrency,
                                    language=language))
