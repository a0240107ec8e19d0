"""Main-text extraction quality of the clean stage on the article-extraction benchmark pages.

    .venv/bin/python benchmarks/eval_extraction.py [PATH] [--worst N] [--split]

PATH holds ``ground-truth.json`` (``{id: {"articleBody", "url"}}``) and ``html/<id>.html.gz``
(default ``../shared/data/extraction-dev``). Each page goes through the clean stage as a
``RawArticle(url, html)``, exactly as a crawler would publish it, and the emitted ``body`` is
scored (a skipped page scores as an empty prediction).

The metric is the benchmark's (see ../shared/README.md): tokens are ``\\w+`` runs; per document
the multisets of 4-token shingles of prediction and gold give TP/FP/FN, normalised to sum to 1;
precision and recall are averaged over documents (a document counts toward precision when
TP+FP > 0, toward recall when TP+FN > 0; FP = FN = 0 gives 1 for both); F1 is the harmonic
mean of the averaged precision and recall.

``--split`` also reports the two halves of the pages chosen by a hash of the page id, so that
a change tuned while looking at one half can be checked on the other.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from schemas.articles import RawArticle  # noqa: E402
from workers.clean.stage import CleanStage  # noqa: E402
from workers.stage import Emit  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "data" / "extraction-dev"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; a text shorter than n tokens is one shingle."""
    tokens = _TOKEN.findall(text)
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def tp_fp_fn(prediction: str, gold: str) -> tuple[float, float, float]:
    """Shingle overlap of one document, normalised so that TP + FP + FN = 1 (or all 0)."""
    pred, true = shingles(prediction), shingles(gold)
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    n: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(pairs: list[tuple[str, str]]) -> Score:
    """Averaged precision and recall over (prediction, gold) pairs, as the benchmark does."""
    precisions: list[float] = []
    recalls: list[float] = []
    for prediction, gold in pairs:
        tp, fp, fn = tp_fp_fn(prediction, gold)
        if fp == 0 and fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    return Score(
        sum(precisions) / len(precisions) if precisions else 0.0,
        sum(recalls) / len(recalls) if recalls else 0.0,
        len(pairs),
    )


def half_of(page_id: str) -> str:
    """A or B, fixed by a hash of the page id (not by its order or content)."""
    return "A" if hashlib.sha256(page_id.encode()).digest()[0] % 2 == 0 else "B"


def load(path: Path) -> dict[str, tuple[str, str, str]]:
    """``{id: (url, html, gold body)}``."""
    truth = json.loads((path / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {}
    for page_id, item in sorted(truth.items()):
        html = gzip.decompress((path / "html" / f"{page_id}.html.gz").read_bytes())
        pages[page_id] = (item["url"], html.decode("utf-8", errors="replace"), item["articleBody"])
    return pages


def predict(stage: CleanStage, url: str, html: str) -> str:
    [outcome] = stage.process([RawArticle(url=url, html=html)])
    return outcome.article.body if isinstance(outcome, Emit) else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH,
                        help="the benchmark folder (default ../shared/data/extraction-dev)")
    parser.add_argument("--worst", type=int, default=0, help="list the N lowest-F1 pages")
    parser.add_argument("--split", action="store_true", help="also score the two hash halves")
    args = parser.parse_args()

    pages = load(args.path)
    # min_words=0: score every extraction, even one the stage would skip as too short.
    stage = CleanStage(min_words=0)
    pairs = {pid: (predict(stage, url, html), gold) for pid, (url, html, gold) in pages.items()}

    def report(label: str, ids: list[str]) -> None:
        s = score([pairs[i] for i in ids])
        print(f"{label:<10} pages={s.n:<4} P={s.precision:.4f} R={s.recall:.4f} F1={s.f1:.4f}")

    report("all", list(pairs))
    if args.split:
        for half in ("A", "B"):
            report(f"half {half}", [i for i in pairs if half_of(i) == half])
    if args.worst:
        print(f"\nworst {args.worst} pages (F1, P, R, id, url):")
        per_page = sorted(((score([pairs[i]]), i) for i in pairs), key=lambda item: item[0].f1)
        for s, pid in per_page[: args.worst]:
            print(f"  {s.f1:.3f} {s.precision:.3f} {s.recall:.3f} {pid[:12]} {pages[pid][0]}")


if __name__ == "__main__":
    main()
