"""Duplicate-detection quality of the dedup stage on BBC News and Reuters-21578, scored by pairs.

    .venv/bin/python benchmarks/eval_dedup.py [--bbc PATH] [--reuters PATH] [--corpus bbc|reuters]
                                              [--threshold T ...] [--batch-size N]

The stage runs offline (``MemoryStore``) exactly as a worker runs it: articles in corpus order,
in batches of ``--batch-size``, each a ``CleanArticle`` whose body is the record's body and
whose URL is made from the record id (one URL per record, so the same text under two ids is a
copy, not a replay). Defaults: ``../shared/data/bbc-news`` and ``../shared/data/reuters21578``
(NORM records only), threshold ``Settings.dedup_threshold``; give several ``--threshold`` to
sweep.

Ground truth (see ../shared/README.md), over the record's title + body as ``\\w+`` tokens:
``exact_duplicate_groups.json`` (key ``normalised_title_body``) gives the exact pairs, and
``near_duplicate_pairs.tsv`` the word-5-shingle Jaccard and containment of every pair with
Jaccard >= 0.3 or containment >= 0.5. *Re-headlined* pairs are the pairs with the same
normalised body and different normalised titles.

Predicted pairs: every unordered pair of articles with the same ``cluster_id`` (what a search
that collapses on ``cluster_id`` hides). A chain A~B, B~C thus predicts A-C too, and is
scored on it. ``edges`` are the stage's own ``article -> duplicate_of`` links, scored apart.

* recall(J >= 0.8): share of true pairs (Jaccard >= 0.8, or exact) that share a cluster;
* precision(J >= 0.8): share of predicted pairs whose true Jaccard is >= 0.8 (or exact);
  pairs below it are listed by band, so "related" (0.3..0.8) is told apart from
* false merges: predicted pairs absent from the TSV (Jaccard < 0.3 and containment < 0.5),
  i.e. different stories.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from newsflow.config import Settings  # noqa: E402
from schemas.articles import CleanArticle, DedupedArticle, article_id, canonical_url  # noqa: E402
from workers.dedup.stage import DedupStage  # noqa: E402
from workers.dedup.store import MemoryStore  # noqa: E402
from workers.stage import Emit  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
NEAR = 0.8  # the definition of a near-duplicate pair
_WORD = re.compile(r"\w+")

Pair = tuple[str, str]


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


@dataclass
class Record:
    rid: str  # the corpus's own id (``business/001``, ``1234``)
    title: str
    body: str


@dataclass
class Truth:
    exact: set[Pair]  # normalised title + body identical
    jaccard: dict[Pair, float]  # every pair in the TSV
    containment: dict[Pair, float]
    reheadlined: set[Pair]

    @property
    def near(self) -> set[Pair]:
        return self.exact | {p for p, j in self.jaccard.items() if j >= NEAR}


@dataclass
class Corpus:
    name: str
    records: list[Record]
    truth: Truth


def _normalised(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def load(name: str, path: Path) -> Corpus:
    if name == "bbc":
        lines = (path / "bbc-news.jsonl").read_text(encoding="utf-8").splitlines()
        raw = [json.loads(line) for line in lines if line.strip()]
        records = [Record(str(r["id"]), r.get("title") or "", r.get("body") or "") for r in raw]
    else:
        with gzip.open(path / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as f:
            raw = [json.loads(line) for line in f if line.strip()]
        records = [
            Record(str(r["newid"]), r.get("title") or "", r.get("body") or "")
            for r in raw
            if r.get("text_type") == "NORM"
        ]
    groups = json.loads((path / "exact_duplicate_groups.json").read_text())
    exact = {
        pair(str(a), str(b))
        for group in groups["normalised_title_body"]
        for a, b in itertools.combinations(group, 2)
    }
    jaccard: dict[Pair, float] = {}
    containment: dict[Pair, float] = {}
    with (path / "near_duplicate_pairs.tsv").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            a, b, j, c, _ = line.rstrip("\n").split("\t")
            jaccard[pair(a, b)] = float(j)
            containment[pair(a, b)] = float(c)
    by_body: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_body[_normalised(record.body)].append(record)
    reheadlined = {
        pair(x.rid, y.rid)
        for same in by_body.values()
        for x, y in itertools.combinations(same, 2)
        if _normalised(x.title) != _normalised(y.title)
    }
    return Corpus(name, records, Truth(exact, jaccard, containment, reheadlined))


def articles(corpus: Corpus) -> Iterator[tuple[str, CleanArticle]]:
    for record in corpus.records:
        url = f"https://{corpus.name}.example.org/{record.rid}"
        yield (
            record.rid,
            CleanArticle(
                id=article_id(url),
                url=url,
                canonical_url=canonical_url(url),
                source=f"{corpus.name}.example.org",
                title=record.title,
                body=record.body,
                word_count=len(_WORD.findall(record.body)),
            ),
        )


@dataclass
class Run:
    threshold: float
    clusters: dict[str, str] = field(default_factory=dict)  # rid -> cluster rid
    edges: set[Pair] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(corpus: Corpus, threshold: float, batch_size: int) -> Run:
    stage = DedupStage(MemoryStore(), threshold=threshold)
    items = list(articles(corpus))
    rid_of = {article.id: rid for rid, article in items}
    result = Run(threshold)
    started = time.perf_counter()
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        outcomes = stage.process([a for _, a in chunk])
        for (rid, _), outcome in zip(chunk, outcomes, strict=True):
            if not isinstance(outcome, Emit):
                result.skipped.append(rid)
                continue
            out: DedupedArticle = outcome.article
            result.clusters[rid] = rid_of[out.cluster_id]
            if out.duplicate_of is not None:
                result.edges.add(pair(rid, rid_of[out.duplicate_of]))
    result.seconds = time.perf_counter() - started
    return result


def cluster_pairs(clusters: dict[str, str]) -> set[Pair]:
    members: dict[str, list[str]] = defaultdict(list)
    for rid, cluster in clusters.items():
        members[cluster].append(rid)
    return {pair(a, b) for m in members.values() for a, b in itertools.combinations(m, 2)}


def _band(truth: Truth, p: Pair) -> str:
    if p in truth.exact:
        return "exact"
    j = truth.jaccard.get(p)
    if j is None:
        return "different story"
    for low in (0.8, 0.7, 0.6, 0.5, 0.3):
        if j >= low:
            return f"J>={low}"
    return "J<0.3 (containment>=0.5)"


def _ratio(num: int, den: int) -> str:
    return f"{num}/{den} = {num / den:.4f}" if den else "n/a"


def score(corpus: Corpus, result: Run) -> dict[str, object]:
    truth = corpus.truth
    predicted = cluster_pairs(result.clusters)
    near = truth.near
    correct = predicted & near
    wrong = predicted - near
    bands: dict[str, int] = defaultdict(int)
    for p in wrong:
        bands[_band(truth, p)] += 1
    edges_correct = result.edges & near
    sizes: dict[str, int] = defaultdict(int)
    for cluster in result.clusters.values():
        sizes[cluster] += 1
    return {
        "threshold": result.threshold,
        "articles": len(corpus.records),
        "skipped": len(result.skipped),
        "clusters": len(sizes),
        "largest cluster": max(sizes.values(), default=0),
        "exact recall": _ratio(len(predicted & truth.exact), len(truth.exact)),
        "re-headlined recall (all)": _ratio(
            len(predicted & truth.reheadlined), len(truth.reheadlined)
        ),
        "re-headlined recall (J>=0.8)": _ratio(
            len(predicted & truth.reheadlined & near), len(truth.reheadlined & near)
        ),
        "recall J>=0.8": _ratio(len(correct), len(near)),
        "precision J>=0.8": _ratio(len(correct), len(predicted)),
        "false merges (different stories)": len([p for p in wrong if p not in truth.jaccard]),
        "predicted pairs below J 0.8, by band": dict(sorted(bands.items())),
        "edge precision J>=0.8": _ratio(len(edges_correct), len(result.edges)),
        "missed J>=0.8 pairs (first 10)": [
            f"{a} {b} J={truth.jaccard.get((a, b), 1.0):.3f}" for a, b in sorted(near - predicted)
        ][:10],
        "articles/s (offline, memory store)": round(len(corpus.records) / result.seconds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bbc", type=Path, default=SHARED / "bbc-news",
                        help="the BBC News folder (default ../shared/data/bbc-news)")
    parser.add_argument("--reuters", type=Path, default=SHARED / "reuters21578",
                        help="the Reuters-21578 folder (default ../shared/data/reuters21578)")
    parser.add_argument("--corpus", choices=["bbc", "reuters"], action="append",
                        help="corpus to evaluate; repeat for both (default both)")
    parser.add_argument("--threshold", type=float, action="append",
                        help="similarity threshold; repeat to compare (default the setting's)")
    parser.add_argument("--batch-size", type=int, default=Settings().batch_size,
                        help="articles per stage call, as a worker batches them")
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args(argv)
    thresholds = args.threshold or [Settings().dedup_threshold]
    for name in args.corpus or ["bbc", "reuters"]:
        corpus = load(name, args.bbc if name == "bbc" else args.reuters)
        for threshold in thresholds:
            report = {"corpus": name, **score(corpus, run(corpus, threshold, args.batch_size))}
            if args.json:
                print(json.dumps(report))
                continue
            print(f"\n== {name}, threshold {threshold}")
            for key, value in report.items():
                if key != "corpus":
                    print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
