"""Language identification of the clean stage: accuracy per language, short texts, mixed pages.

    .venv/bin/python benchmarks/eval_language.py [--shared DIR] [--sample N] [--sentences N]
                                                 [--min-words N] [--mixed-pairs N]
                                                 [--mixed-chars N] [--seed S] [--json PATH]
    nice -n 10 .venv/bin/python benchmarks/eval_language.py --json /tmp/language.json

Every text goes through ``CleanStage.language(None, text)`` (``workers/clean/stage.py``), the
method the stage calls: py3langid with normalised probabilities on the first
``LANGUAGE_SAMPLE_CHARS`` characters, a guess below ``MIN_LANGUAGE_CONFIDENCE`` returned as
None with its confidence. Each text is first normalised as the stage normalises a body
(``normalise_text``). The data is read at run time from ``--shared`` (default ``../shared/data``
beside the checkout; env ``NEWSFLOW_SHARED_DIR`` replaces ``../shared``; see
../shared/README.md), never copied here:

* ``ner-multilingual``: the development splits (es ``esp.testa``, nl ``ned.testa``, de
  ``NER-de-dev.tsv``, it ``WN_dev.tsv``) made into pseudo-articles: a sentence's tokens joined
  with spaces, one sentence a line, ``--sentences`` (10) consecutive sentences an article; the
  true language is the folder's. The tokens are spaced as tokenised ("Paulo ( Brasil )").
* ``story-pairs/dev.jsonl``: every distinct ``text_1``/``text_2`` with its ``lang_1``/``lang_2``
  (es, fr, en), titles left out; a few of these texts are under 200 characters.
* ``bbc-news`` and ``reuters21578`` (NORM records): ``--sample`` (1000) random bodies each,
  English.

Reported:

* per language and per source, and per language for the articles of at least ``--min-words``
  words (the stage skips shorter ones as too-short): n, accuracy (predicted == true), share
  returned None (below the confidence floor), mean confidence, wrong answers given with
  confidence >= 0.9, and the most common wrong predictions;
* short texts: the articles identified correctly in full (so that length alone is measured,
  not the odd table of figures), cut to their first 20, 50, 100, 200 and 500 characters (only
  those at least that long), accuracy and None share per language;
* mixed pages: for a pair of languages A+B, the first X% of ``--mixed-chars`` (1500) characters
  from an article in A, then the rest from an article in B (each cut at a space, joined by a
  blank line), X = 90, 70, 50, 30, 10; ``--mixed-pairs`` (50) random article pairs for each A+B
  and X: the share of answers A, B, another language or None, and the mean confidence;
* CPU time (``time.process_time``) per 1000 articles of the full-article pass.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from workers.clean.stage import (  # noqa: E402
    LANGUAGE_SAMPLE_CHARS,
    MIN_LANGUAGE_CONFIDENCE,
    CleanStage,
)
from workers.clean.text import normalise_text, word_count  # noqa: E402
from workers.settings import WorkerSettings  # noqa: E402

SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"

# folder, file, column separator (None: any whitespace), token column, comment prefix
NER_SETS: dict[str, tuple[str, str | None, int, str | None]] = {
    "es": ("es/esp.testa", None, 0, None),
    "nl": ("nl/ned.testa", None, 0, None),
    "de": ("de/NER-de-dev.tsv", "\t", 1, "#"),
    "it": ("it/WN_dev.tsv", "\t", 0, None),
}
LANGUAGES = ("en", "es", "fr", "de", "nl", "it")
MIN_WORDS = int(WorkerSettings.model_fields["min_words"].default)  # shorter: skipped as too-short
SHORT_LENGTHS = (20, 50, 100, 200, 500)
MIXED_SHARES = (0.9, 0.7, 0.5, 0.3, 0.1)
MIXED = ("es+en", "de+en", "fr+en", "nl+en", "it+en", "fr+es", "it+es", "nl+de")
CONFIDENT = 0.9  # a wrong answer at or above this is one a consumer would trust


@dataclass(frozen=True)
class Doc:
    source: str
    lang: str
    text: str


@dataclass(frozen=True)
class Guess:
    code: str | None
    confidence: float | None


# --- the data -----------------------------------------------------------------------------


def sentences(path: Path, sep: str | None, column: int, comment: str | None) -> Iterator[str]:
    """The file's sentences, tokens joined with spaces (blank lines end a sentence)."""
    tokens: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if comment and line.startswith(comment):
                continue
            fields = line.split(sep)
            if not line.strip() or fields[0] == "-DOCSTART-":
                if tokens:
                    yield " ".join(tokens)
                tokens = []
                continue
            tokens.append(fields[column])
    if tokens:
        yield " ".join(tokens)


def ner_docs(shared: Path, per_doc: int) -> Iterator[Doc]:
    for lang, (name, sep, column, comment) in NER_SETS.items():
        found = list(sentences(shared / "ner-multilingual" / name, sep, column, comment))
        for start in range(0, len(found), per_doc):
            yield Doc(f"ner-{lang}", lang, "\n".join(found[start : start + per_doc]))


def story_docs(shared: Path) -> Iterator[Doc]:
    seen: set[str] = set()
    with (shared / "story-pairs" / "dev.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            for k in ("1", "2"):
                text = row[f"text_{k}"]
                if text and text.strip() and text not in seen:
                    seen.add(text)
                    yield Doc("story-pairs", row[f"lang_{k}"], text)


def sample(bodies: list[str], n: int, rng: random.Random) -> list[str]:
    return rng.sample(bodies, n) if n < len(bodies) else bodies


def english_docs(shared: Path, n: int, rng: random.Random) -> Iterator[Doc]:
    with (shared / "bbc-news" / "bbc-news.jsonl").open(encoding="utf-8") as lines:
        bbc = [json.loads(line)["body"] for line in lines]
    with gzip.open(shared / "reuters21578" / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as z:
        records = (json.loads(line) for line in z)
        reuters = [r["body"] for r in records if r["text_type"] == "NORM" and r["body"].strip()]
    for body in sample(bbc, n, rng):
        yield Doc("bbc-news", "en", body)
    for body in sample(reuters, n, rng):
        yield Doc("reuters21578", "en", body)


def load(shared: Path, per_doc: int, n: int, rng: random.Random) -> list[Doc]:
    docs = [*ner_docs(shared, per_doc), *story_docs(shared), *english_docs(shared, n, rng)]
    normalised = (Doc(d.source, d.lang, normalise_text(d.text)) for d in docs)
    return [d for d in normalised if d.text]


# --- scoring ------------------------------------------------------------------------------


def identify(stage: CleanStage, texts: Iterable[str]) -> list[Guess]:
    return [Guess(*stage.language(None, text)) for text in texts]


def score(docs: Sequence[Doc], guesses: Sequence[Guess]) -> dict[str, Any]:
    """n, accuracy, None share, mean confidence, confident errors, commonest wrong answers."""
    n = len(docs)
    if not n:
        return {"n": 0}
    right = sum(g.code == d.lang for d, g in zip(docs, guesses, strict=True))
    wrong = [(d, g) for d, g in zip(docs, guesses, strict=True)
             if g.code is not None and g.code != d.lang]
    none = sum(g.code is None for g in guesses)
    confidences = [g.confidence for g in guesses if g.confidence is not None]
    return {
        "n": n,
        "accuracy": right / n,
        "none": none / n,
        "mean_confidence": sum(confidences) / len(confidences) if confidences else None,
        "wrong_confident": sum((g.confidence or 0) >= CONFIDENT for _, g in wrong),
        "wrong_as": dict(Counter(str(g.code) for _, g in wrong).most_common(5)),
    }


def grouped(
    docs: Sequence[Doc], guesses: Sequence[Guess], key: str
) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(docs):
        groups[getattr(doc, key)].append(i)
    order = sorted(groups, key=lambda g: (LANGUAGES.index(docs[groups[g][0]].lang), g))
    return {g: score([docs[i] for i in groups[g]], [guesses[i] for i in groups[g]])
            for g in order}


def short_texts(stage: CleanStage, docs: Sequence[Doc]) -> dict[str, dict[str, Any]]:
    """Per length, per language: the articles at least that long, cut to that length."""
    out: dict[str, dict[str, Any]] = {}
    for length in SHORT_LENGTHS:
        kept = [Doc(d.source, d.lang, d.text[:length]) for d in docs if len(d.text) >= length]
        guesses = identify(stage, (d.text for d in kept))
        out[str(length)] = {**grouped(kept, guesses, "lang"), "all": score(kept, guesses)}
    return out


def head(text: str, chars: int) -> str:
    """At most ``chars`` characters from the start, cut at a space when there is one."""
    if len(text) <= chars:
        return text
    cut = text[:chars]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space > 0 else cut


def mixed_pages(
    stage: CleanStage, docs: Sequence[Doc], pairs: int, total: int, rng: random.Random
) -> dict[str, dict[str, Any]]:
    pool: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        if len(d.text) >= total * max(MIXED_SHARES):
            pool[d.lang].append(d.text)
    out: dict[str, dict[str, Any]] = {}
    for mix in MIXED:
        a, b = mix.split("+")
        if not (pool[a] and pool[b]):
            continue
        for share in MIXED_SHARES:
            a_chars = round(total * share)
            texts = [
                head(rng.choice(pool[a]), a_chars) + "\n\n"
                + head(rng.choice(pool[b]), total - a_chars)
                for _ in range(pairs)
            ]
            guesses = identify(stage, texts)
            said = Counter(
                "A" if g.code == a else "B" if g.code == b else "None" if g.code is None
                else "other" for g in guesses
            )
            others = Counter(str(g.code) for g in guesses if g.code not in (a, b, None))
            confidences = [g.confidence for g in guesses if g.confidence is not None]
            out[f"{mix} {round(share * 100)}/{round((1 - share) * 100)}"] = {
                "a": a, "b": b, "a_percent": round(share * 100), "n": len(texts),
                **{k: said[k] / len(texts) for k in ("A", "B", "other", "None")},
                "mean_confidence": sum(confidences) / len(confidences) if confidences else None,
                "other_as": dict(others.most_common(3)),
            }
    return out


# --- output -------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}%"


def _conf(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_articles(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n== {title}")
    print(f"{'':20} {'n':>5} {'accuracy':>9} {'None':>7} {'mean conf':>9} "
          f"{'wrong>=0.9':>10}  wrong answers")
    for name, r in rows.items():
        wrong = ", ".join(f"{k} {v}" for k, v in r["wrong_as"].items()) or "-"
        print(f"{name:20} {r['n']:5d} {_pct(r['accuracy']):>9} {_pct(r['none']):>7} "
              f"{_conf(r['mean_confidence']):>9} {r['wrong_confident']:10d}  {wrong}")


def print_short(short: dict[str, dict[str, Any]]) -> None:
    print("\n== short texts (articles right in full): accuracy (None share), first N characters")
    langs = [lang for lang in (*LANGUAGES, "all") if lang in short[str(SHORT_LENGTHS[-1])]]
    print(f"{'chars':>6} " + " ".join(f"{lang:>16}" for lang in langs))
    for length, rows in short.items():
        cells = [f"{_pct(rows[lang]['accuracy'])} ({_pct(rows[lang]['none']).strip()})"
                 if lang in rows else "-" for lang in langs]
        print(f"{length:>6} " + " ".join(f"{c:>16}" for c in cells))
    print("       n: " + ", ".join(
        f"{length} chars {rows['all']['n']}" for length, rows in short.items()))


def print_mixed(mixed: dict[str, dict[str, Any]]) -> None:
    print("\n== mixed pages: A% then B% of the characters; share of answers")
    print(f"{'page':18} {'n':>4} {'A':>7} {'B':>7} {'other':>7} {'None':>7} "
          f"{'mean conf':>9}  other")
    for name, r in mixed.items():
        other = ", ".join(f"{k} {v}" for k, v in r["other_as"].items()) or "-"
        print(f"{name:18} {r['n']:4d} {_pct(r['A']):>7} {_pct(r['B']):>7} "
              f"{_pct(r['other']):>7} {_pct(r['None']):>7} {_conf(r['mean_confidence']):>9}  "
              f"{other}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED,
                        help="the shared data folder (default ../shared/data; "
                             "env NEWSFLOW_SHARED_DIR replaces ../shared)")
    parser.add_argument("--sample", type=int, default=1000,
                        help="BBC and Reuters bodies to take, each (default 1000)")
    parser.add_argument("--sentences", type=int, default=10,
                        help="sentences per pseudo-article of the NER sets (default 10)")
    parser.add_argument("--mixed-pairs", type=int, default=50,
                        help="random article pairs per language pair and share (default 50)")
    parser.add_argument("--mixed-chars", type=int, default=1500,
                        help="length of a mixed page in characters (default 1500)")
    parser.add_argument("--min-words", type=int, default=MIN_WORDS,
                        help="the stage's too-short floor, for the table of articles it keeps "
                             f"(default {MIN_WORDS}, WorkerSettings.min_words)")
    parser.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    args_given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/eval_language.py", *args_given])
    rng = random.Random(args.seed)
    docs = load(args.shared, args.sentences, args.sample, rng)
    stage = CleanStage(min_words=0, time_limit=None)
    try:
        started = time.process_time()
        guesses = identify(stage, (d.text for d in docs))
        cpu = time.process_time() - started
        kept = [i for i, d in enumerate(docs) if word_count(d.text) >= args.min_words]
        report: dict[str, Any] = {
            "command": command,
            "date": datetime.now(UTC).date().isoformat(),
            "min_language_confidence": MIN_LANGUAGE_CONFIDENCE,
            "min_words": args.min_words,
            "language_sample_chars": LANGUAGE_SAMPLE_CHARS,
            "cpu_seconds_per_1000_articles": 1000 * cpu / len(docs),
            "mean_chars": sum(len(d.text) for d in docs) / len(docs),
            "by_language": {**grouped(docs, guesses, "lang"), "all": score(docs, guesses)},
            "by_source": grouped(docs, guesses, "source"),
            "by_language_kept": {**grouped([docs[i] for i in kept], [guesses[i] for i in kept],
                                           "lang"),
                                 "all": score([docs[i] for i in kept], [guesses[i] for i in kept])},
            "short": short_texts(stage, [d for d, g in zip(docs, guesses, strict=True)
                                         if g.code == d.lang]),
            "mixed": mixed_pages(stage, docs, args.mixed_pairs, args.mixed_chars, rng),
        }
    finally:
        stage.close()

    print(f"command: {command}")
    print(f"date: {report['date']}; confidence floor {MIN_LANGUAGE_CONFIDENCE}, "
          f"first {LANGUAGE_SAMPLE_CHARS} characters")
    print_articles("whole articles, per language", report["by_language"])
    print_articles("whole articles, per source", report["by_source"])
    print_articles(f"whole articles of at least {args.min_words} words (what the stage keeps), "
                   "per language", report["by_language_kept"])
    print_short(report["short"])
    print_mixed(report["mixed"])
    print(f"\nCPU time: {report['cpu_seconds_per_1000_articles']:.2f} s per 1000 articles "
          f"({len(docs)} articles, mean {report['mean_chars']:.0f} characters)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
