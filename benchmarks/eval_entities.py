"""Quality and speed of the entities stage.

    python benchmarks/eval_entities.py                       # the gold set (tests/data/ner-gold)
    python benchmarks/eval_entities.py --conll eng.testb     # a CoNLL-2003-style file: PER/ORG/LOC
    python benchmarks/eval_entities.py --conll ../shared/data/ner-multilingual/es/esp.testa \
        --language es --per-doc 10                           # other languages (stages/entities.md)
    python benchmarks/eval_entities.py --standoff benchmarks/data/ner-reuters-test.jsonl
    python benchmarks/eval_entities.py --standoff benchmarks/data/ner-bbc-sport-test.jsonl
    python benchmarks/eval_entities.py --baseline ...        # the bare model, plain label mapping
    NEWSFLOW_NER_BACKEND=spacy python benchmarks/eval_entities.py ...   # spaCy's model instead
    python benchmarks/eval_entities.py --speed ../shared/data/bbc-news/bbc-news.jsonl
    python benchmarks/eval_entities.py --speed ../shared/data/ner-multilingual/nl/ned.testa \
        --language nl                                        # 15 sentences an article

Quality: precision, recall and F1 per type, micro-averaged over all mentions, at two levels:
``mention`` (exact character spans with their type) and ``canonical`` (the set of (canonical
name, type) per article, case-insensitive; gold set only: CoNLL files carry no canonical names).
A CoNLL document's text is its tokens joined by spaces, one sentence a line; only PER, ORG and
LOC are scored there (MISC predictions and gold are ignored), as in the usual 3-type setting.

``--standoff`` scores the same way (3 types, exact spans) on articles of the shared corpora
annotated by us CoNLL-style, the nearest things here to that benchmark: Reuters-21578 (newswire,
ALL-CAPS headlines, datelines) and the BBC corpus's sport (teams, players, national sides). The
files hold only ids and offsets; the text is read from the shared corpus at run time
(``--shared``): Reuters as headline, newline, dateline, space, body; BBC as title, newline, body.
Reuters' ticker symbols in angle brackets and closing "REUTER" are not annotated, so predictions
touching them are not scored. ``--layout conll`` scores the same articles laid out as CoNLL-2003
prints its text (tokens joined by spaces, one sentence a line): the layout of the issue's
benchmark, where the bare spaCy model scores 0.66 and 0.68 on our test halves against the
issue's 0.60 there. Each ``dev`` file was used to find errors; each ``test`` file was
annotated at the same time and only scored.

The model is the one the settings pick (``NEWSFLOW_NER_BACKEND``): CoreNLP's CoNLL model on the
stack's CoreNLP server by default (start it with ``newsflow stack up``), or the spaCy model.

Speed: articles per CPU second of ``EntitiesStage.process``, or with ``--baseline`` of the bare
model (spaCy's ``nlp.pipe``, or the CoreNLP server's answers), over the bodies of a JSONL file
(``body`` or ``text``), in batches like the worker's. CPU time, not wall time, so that other
load on a shared machine disturbs the figure less; with CoreNLP it is this process's and the
local server's together (the server's found by its command line).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from procstat import cpu_seconds, service_pids

from newsflow.config import Settings
from schemas.articles import DedupedArticle, EnrichedArticle
from workers.entities.corenlp import CoreNlpClient
from workers.entities.labels import LABEL_TYPES
from workers.entities.models import load_ner
from workers.entities.stage import EntitiesStage, build
from workers.stage import Emit, StageContext

ROOT = Path(__file__).resolve().parents[1]
# Not annotated in the Reuters files (see above): tickers, and the closing sign-off.
UNSCORED = re.compile(r"<[^<>\n]*>|\bREUTERS?\s*$", re.IGNORECASE)
GOLD = ROOT / "tests" / "data" / "ner-gold" / "gold.jsonl"
CONLL_TYPES = {"PER": "person", "ORG": "organization", "LOC": "location"}
Doc = tuple[str, str, list[tuple[int, int, str, str]]]  # id, body, gold (start, end, type, name)


def read_gold(path: Path) -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        spans = [(e["start"], e["end"], e["type"], e["name"]) for e in d["entities"]]
        docs.append((d["id"], d["body"], spans))
    return docs


def read_conll(path: Path, per_doc: int = 0) -> list[Doc]:
    """CoNLL-2003 columns (token ... tag), IOB1 or IOB2 tags, -DOCSTART- between documents;
    also CoNLL-2002 (Spanish, Dutch), KIND (token, tag) and GermEval 2014 (``#`` lines, then
    index, token, outer tag, inner tag: the outer tag is scored; LOCderiv, ORGpart and OTH are
    not PER/ORG/LOC). ``per_doc`` > 0 also cuts a document after that many sentences (files
    without -DOCSTART- would otherwise be one document)."""
    docs: list[Doc] = []
    lines: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    sentence: list[tuple[str, str]] = []

    def end_sentence() -> None:
        offset = sum(len(x) + 1 for x in lines)
        pos = offset
        current: tuple[int, str] | None = None  # start, type
        words = []
        for token, tag in sentence:
            prefix, _, kind = tag.partition("-")
            if current and (tag == "O" or prefix == "B" or kind != current[1]):
                spans.append((current[0], pos - 1, CONLL_TYPES.get(current[1], ""), ""))
                current = None
            if tag != "O" and current is None:
                current = (pos, kind)
            words.append(token)
            pos += len(token) + 1
        if current:
            spans.append((current[0], pos - 1, CONLL_TYPES.get(current[1], ""), ""))
        lines.append(" ".join(words))
        sentence.clear()
        if per_doc and len(lines) >= per_doc:
            end_doc()

    def end_doc() -> None:
        if sentence:
            end_sentence()
        if lines:
            kept = [s for s in spans if s[2]]
            docs.append((f"conll-{len(docs)}", "\n".join(lines), kept))
        lines.clear()
        spans.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        cols = raw.split()
        if not cols:
            if sentence:
                end_sentence()
        elif cols[0] == "-DOCSTART-":
            end_doc()
        elif raw.startswith("#\t"):  # GermEval: a sentence's source
            continue
        elif len(cols) == 4 and cols[0].isdigit():  # GermEval: idx token outer inner
            sentence.append((cols[1], cols[2]))
        else:
            sentence.append((cols[0], cols[-1]))
    end_doc()
    return docs


def reuters_text(rec: dict) -> str:
    """One Reuters-21578 record as the annotated text: headline, dateline and body."""
    title, dateline = rec["title"].strip(), (rec.get("dateline") or "").strip()
    return f"{title}\n{dateline} {rec['body'].strip()}"


def read_standoff(path: Path, shared: Path) -> tuple[list[Doc], list[list[tuple[int, int]]]]:
    """Our standoff annotations over a shared corpus (Reuters lines have a ``newid``, BBC ones
    an ``id``), and each text's unscored spans."""
    wanted: dict[int | str, list[tuple[int, int, str, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        wanted[d.get("newid", d.get("id"))] = [
            (e["start"], e["end"], CONLL_TYPES[e["type"]], "")
            for e in d["entities"]
            if e["type"] in CONLL_TYPES
        ]
    reuters = all(isinstance(k, int) for k in wanted)
    if not (shared / "data").is_dir():
        raise SystemExit(f"no shared corpora under {shared}: pass --shared DIR")
    texts: dict[int | str, str] = {}
    if reuters:
        with gzip.open(shared / "data" / "reuters21578" / "reuters21578.jsonl.gz", "rt") as f:
            for line in f:
                rec = json.loads(line)
                if rec["newid"] in wanted:
                    texts[rec["newid"]] = reuters_text(rec)
    else:
        with (shared / "data" / "bbc-news" / "bbc-news.jsonl").open(encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if rec["id"] in wanted:
                    texts[rec["id"]] = f"{rec['title'].strip()}\n{rec['body'].strip()}"
    missing = wanted.keys() - texts.keys()
    if missing:
        raise SystemExit(f"{path}: {len(missing)} articles not in the corpus under {shared}")
    docs = [(f"{'reuters-' if reuters else ''}{i}", texts[i], spans) for i, spans in wanted.items()]
    unscored = [
        [m.span() for m in UNSCORED.finditer(text)] if reuters else [] for _, text, _ in docs
    ]
    return docs, unscored


# CoNLL-2003's tokens: abbreviations keep their dots ("U.S.", "Calif."), other punctuation
# stands alone.
_CONLL_TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}|[A-Z][a-z]{0,4}\.(?=\s*[,a-z0-9])|\w+(?:[-'.&]\w+)*|\S"
)


def conll_layout(
    docs: list[Doc], unscored: list[list[tuple[int, int]]]
) -> list[Doc]:
    """The same documents as CoNLL-2003 prints them: tokens joined by spaces, one sentence a
    line (a sentence ends at the headline's end, a blank line, or a full stop before a
    capital), unscored spans left out. Gold spans move with their tokens."""
    out: list[Doc] = []
    for (id_, text, gold), skip in zip(docs, unscored or [[] for _ in docs], strict=True):
        head_end = text.find("\n")
        tokens = [m.span() for m in _CONLL_TOKEN.finditer(text)
                  if not any(a <= m.start() < b for a, b in skip)]
        lines: list[str] = []
        starts: dict[int, int] = {}  # old token start -> new start
        ends: dict[int, int] = {}  # old token end -> new end
        line: list[str] = []
        pos = 0
        for i, (a, b) in enumerate(tokens):
            starts[a], ends[b] = pos, pos + b - a
            line.append(text[a:b])
            pos += b - a + 1
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
            if nxt is not None and not (
                b <= head_end < nxt or "\n\n" in text[b:nxt]
                or (text[a:b] in ".!?" and text[nxt].isupper())
            ):
                continue
            lines.append(" ".join(line))
            line = []
        spans = []
        for start, end, type_, name in gold:
            inside = [(a, b) for a, b in tokens if start <= a and b <= end]
            if inside:
                spans.append((starts[inside[0][0]], ends[inside[-1][1]], type_, name))
        out.append((id_, "\n".join(lines), spans))
    return out


def article(id_: str, body: str, language: str = "en") -> DedupedArticle:
    return DedupedArticle(
        id=id_,
        url=f"https://gold.example/{id_}",
        canonical_url=f"https://gold.example/{id_}",
        source="gold.example",
        body=body,
        language=language,
        word_count=len(body.split()),
        cluster_id=id_,
        text_hash=id_,
    )


def batched(items: list[DedupedArticle], size: int) -> Iterator[list[DedupedArticle]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def predict(stage: EntitiesStage, docs: list[Doc], language: str = "en"
            ) -> list[list[tuple[int, int, str, str]]]:
    out: list[list[tuple[int, int, str, str]]] = []
    for batch in batched([article(i, body, language) for i, body, _ in docs], 64):
        for outcome in stage.process(batch):
            assert isinstance(outcome, Emit)
            enriched = outcome.article
            assert isinstance(enriched, EnrichedArticle)
            out.append(
                [(m.start, m.end, e.type, e.name) for e in enriched.entities for m in e.mentions]
            )
    return out


def bare_model(settings: Settings) -> Callable[[list[str]], list[list[tuple[int, int, str]]]]:
    """The English model alone: texts -> (start, end, label) per text, spaCy's labels."""
    if settings.ner_backend == "corenlp":
        return CoreNlpClient(settings.corenlp_url, concurrency=settings.corenlp_concurrency).spans
    nlp = load_ner(settings.spacy_model)
    return lambda texts: [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)
    ]


def predict_baseline(settings: Settings, docs: list[Doc]) -> list[list[tuple[int, int, str, str]]]:
    spans = bare_model(settings)([body for _, body, _ in docs])
    return [
        [(s, e, LABEL_TYPES[label], body[s:e]) for s, e, label in found if label in LABEL_TYPES]
        for (_, body, _), found in zip(docs, spans, strict=True)
    ]


def scores(gold: Iterable[tuple], pred: Iterable[tuple], types: list[str]) -> dict[str, tuple]:
    """P/R/F1 per type (the type is each tuple's last element) and micro over ``types``."""
    g, p = Counter(gold), Counter(pred)
    table = {}
    for t in [*types, "all"]:
        want = types if t == "all" else [t]
        gt = sum(n for k, n in g.items() if k[-1] in want)
        pt = sum(n for k, n in p.items() if k[-1] in want)
        tp = sum(min(n, p[k]) for k, n in g.items() if k[-1] in want)
        prec, rec = tp / pt if pt else 0.0, tp / gt if gt else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        table[t] = (prec, rec, f1, gt, pt)
    return table


def show(title: str, table: dict[str, tuple]) -> None:
    print(f"\n{title}\n{'type':<14}{'P':>7}{'R':>7}{'F1':>7}{'gold':>7}{'pred':>7}")
    for t, (p, r, f, g, n) in table.items():
        print(f"{t:<14}{p:7.3f}{r:7.3f}{f:7.3f}{g:7d}{n:7d}")


def evaluate(
    docs: list[Doc], preds: list[list[tuple]], types: list[str], canon: bool, errors: bool
) -> None:
    gold_m = [(d, s, e, t) for d, (_, _, spans) in enumerate(docs) for s, e, t, _ in spans]
    pred_m = [(d, s, e, t) for d, spans in enumerate(preds) for s, e, t, _ in spans]
    show("mention level (exact spans)", scores(gold_m, pred_m, types))
    if errors:
        for d, (id_, body, _) in enumerate(docs):
            g = {x[1:] for x in gold_m if x[0] == d}
            p = {x[1:] for x in pred_m if x[0] == d}
            for s, e, t in sorted(g ^ p):
                print(f"  {id_} {'missed' if (s, e, t) in g else 'wrong '} {t:<13}{body[s:e]!r}")
    if canon:
        gold_c = {(d, n.casefold(), t) for d, (_, _, sp) in enumerate(docs) for _, _, t, n in sp}
        pred_c = {(d, n.casefold(), t) for d, sp in enumerate(preds) for _, _, t, n in sp}
        show("canonical-name level (per article)", scores(gold_c, pred_c, types))


def bodies(paths: list[Path], limit: int) -> list[str]:
    """Bodies of JSONL files (gzip or not); Reuters' records only of type NORM (with a body)."""
    out: list[str] = []
    for path in paths:
        with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz"
              else path.open(encoding="utf-8")) as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {number}: not JSON ({error})") from None
                if record.get("text_type", "NORM") != "NORM":
                    continue
                if body := record.get("body") or record.get("text"):
                    out.append(body)
                if len(out) >= limit:
                    return out
    return out


def speed(
    settings: Settings, stage: EntitiesStage, path: Path, limit: int, batch: int, bare: bool,
    language: str = "en", per_doc: int = 15,
) -> None:
    """Articles per CPU second through the stage, or (``bare``) through the English model
    alone; over a JSONL file's bodies, or a CoNLL-style file's texts cut ``per_doc``
    sentences to an article (the other languages: no news corpus of theirs is here)."""
    if path.suffix in (".jsonl", ".gz"):
        texts = bodies([path], limit)
    else:
        texts = [body for _, body, _ in read_conll(path, per_doc)][:limit]
    # Distinct ids and hashes: no article may be served from the duplicate cache.
    items = [article(f"s{i}", body, language) for i, body in enumerate(texts)]
    assert stage.nlp is not None
    model = bare_model(settings) if bare else None
    on_corenlp = language == "en" or language in settings.corenlp_languages
    server = service_pids().get("corenlp") if settings.ner_backend == "corenlp" else None
    if settings.ner_backend == "corenlp" and on_corenlp and server is None:
        raise SystemExit("no local CoreNLP server to time (start it: `newsflow stack up`)")
    stage.process(items[:8])  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    s0 = cpu_seconds(server) if server else 0.0
    for chunk in batched(items, batch):
        if model is not None:
            model([a.body for a in chunk])
        else:
            stage.process(chunk)
    dt, mine = time.perf_counter() - t0, time.process_time() - c0
    theirs = cpu_seconds(server) - s0 if server and on_corenlp else 0.0
    cpu = mine + theirs
    chars = sum(map(len, texts)) / len(texts)
    what = f"{'bare model' if bare else 'entities stage'} ({stage.model_name(items[0])})"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    split = f" = {mine:.1f} s here + {theirs:.1f} s CoreNLP server" if theirs else ""
    print(
        f"{what}: {len(items)} articles (mean {chars:.0f} chars) in {dt:.1f} s wall, "
        f"{cpu:.1f} s CPU{split}: {len(items) / cpu:.1f} articles per CPU second "
        f"({len(items) / dt:.1f}/s wall; batch {batch}); this process's peak RSS, every "
        f"language's model loaded: {peak:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=GOLD,
                        help="gold annotations, JSONL (default tests/data/ner-gold/gold.jsonl)")
    parser.add_argument("--conll", type=Path, help="score a CoNLL-2003-style file instead "
                        "(also CoNLL-2002, KIND, GermEval 2014)")
    parser.add_argument("--language", default="en",
                        help="--conll, --speed: the articles' language, as the clean stage "
                        "would set it")
    parser.add_argument("--per-doc", type=int, default=0,
                        help="--conll: sentences per document (0: -DOCSTART- only); --speed "
                        "over a CoNLL-style file: sentences per article (0: 15)")
    parser.add_argument("--standoff", type=Path,
                        help="score our CoNLL-style annotations of a shared corpus instead")
    parser.add_argument("--layout", choices=["text", "conll"], default="text",
                        help="--standoff: score the articles as written, or laid out as "
                        "CoNLL-2003 prints its text (tokens spaced, one sentence a line)")
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")),
                        help="the shared data folder (env NEWSFLOW_SHARED_DIR; default ../shared)")
    parser.add_argument("--baseline", action="store_true", help="bare model, plain mapping")
    parser.add_argument("--speed", type=Path, help="JSONL of articles to time the stage on")
    parser.add_argument("--errors", action="store_true", help="list missed and wrong spans")
    parser.add_argument("--limit", type=int, default=1000, help="--speed: articles timed")
    parser.add_argument("--batch", type=int, default=100, help="--speed: articles per stage call")
    args = parser.parse_args()

    settings = Settings()
    if args.speed:
        stage = build(settings, StageContext(offline=True))
        speed(settings, stage, args.speed, args.limit, args.batch, args.baseline,
              args.language, args.per_doc or 15)
        return
    three_types = bool(args.conll or args.standoff)
    unscored: list[list[tuple[int, int]]] = []
    if args.standoff:
        docs, unscored = read_standoff(args.standoff, args.shared)
        if args.layout == "conll":
            docs, unscored = conll_layout(docs, unscored), []
    else:
        docs = read_conll(args.conll, args.per_doc) if args.conll else read_gold(args.gold)
    types = ["person", "organization", "location"] + ([] if three_types else ["misc"])
    if args.baseline:
        preds = predict_baseline(settings, docs)
    else:
        preds = predict(build(settings, StageContext(offline=True)), docs, args.language)
    if three_types:  # 3-type scoring: misc is neither gold nor predicted
        preds = [[s for s in p if s[2] != "misc"] for p in preds]
    if unscored:
        preds = [
            [s for s in p if not any(s[0] < b and a < s[1] for a, b in skip)]
            for p, skip in zip(preds, unscored, strict=True)
        ]
    what = "bare model" if args.baseline else "entities stage"
    print(f"{len(docs)} documents, {what} ({settings.ner_backend})")
    evaluate(docs, preds, types, canon=not three_types, errors=args.errors)


if __name__ == "__main__":
    main()
