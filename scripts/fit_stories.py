"""Fit the stories stage's similarity on rated article pairs, and score it by cross-validation.

    python scripts/fit_stories.py                         # what `make stories-model` runs
    python scripts/fit_stories.py --check PAIRS.jsonl     # only score the shipped fit on PAIRS

In: ``../shared/data/story-pairs/dev.jsonl`` (read at run time, never copied): lines
``{"title_1", "text_1", "title_2", "text_2", "lang_1", "lang_2", "overall"}``, ``overall`` 1
(same event) .. 4 (unrelated). Out: ``workers/data/stories/similarity.json``, the weights of
``workers.stories.similarity`` (ridge regression of ``(4 - overall) / 3`` on the signals, its
penalty chosen by 10-fold cross-validation) and the operating threshold: the lowest at which
the cross-validated ``same_story`` precision (pairs with overall <= 1.5 against those >= 3.0)
is at least ``--precision``. Printed: per language, Pearson of the similarity against
``-overall`` and that precision and recall, all from held-out folds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.stories.similarity import (  # noqa: E402
    FEATURES,
    PARAMS,
    Similarity,
    expand,
    features,
    profile,
)

SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"
DEV = SHARED / "story-pairs" / "dev.jsonl"
SAME, DIFFERENT = 1.5, 3.0  # overall at or below: the same event; at or above: different ones
FOLDS = 10
PENALTIES = (0.01, 0.1, 1.0, 10.0)


def read_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def signals(pairs: list[dict]) -> np.ndarray:
    rows = []
    for pair in pairs:
        a = profile(pair["title_1"], pair["text_1"], pair.get("lang_1"))
        b = profile(pair["title_2"], pair["text_2"], pair.get("lang_2"))
        rows.append(expand(features(a, b)))
    return np.array(rows)


def ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """Weights and bias minimising squared error + penalty x |weights|^2 (bias unpenalised)."""
    mean_x, mean_y = x.mean(axis=0), y.mean()
    xc = x - mean_x
    w = np.linalg.solve(xc.T @ xc + penalty * np.eye(x.shape[1]), xc.T @ (y - mean_y))
    return w, float(mean_y - mean_x @ w)


def cross_validated(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Each pair's score from the fit on the folds it is not in (fixed folds: reproducible)."""
    folds = np.random.default_rng(0).permutation(len(y)) % FOLDS
    out = np.zeros(len(y))
    for k in range(FOLDS):
        w, b = ridge(x[folds != k], y[folds != k], penalty)
        out[folds == k] = np.clip(x[folds == k] @ w + b, 0.0, 1.0)
    return out


def precision_recall(scores: np.ndarray, overall: np.ndarray, threshold: float
                     ) -> tuple[float, float]:
    same, different = overall <= SAME, overall >= DIFFERENT
    said = scores >= threshold
    tp, fp = int((said & same).sum()), int((said & different).sum())
    return tp / max(tp + fp, 1), tp / max(int(same.sum()), 1)


def operating_threshold(scores: np.ndarray, overall: np.ndarray, precision: float) -> float:
    """The lowest threshold whose precision reaches ``precision`` (the most recall)."""
    for threshold in np.unique(np.round(scores, 3)):
        if precision_recall(scores, overall, float(threshold))[0] >= precision:
            return float(threshold)
    return 1.0


def report(pairs: list[dict], scores: np.ndarray, threshold: float) -> None:
    overall = np.array([p["overall"] for p in pairs], dtype=float)
    langs = np.array([f"{p.get('lang_1') or '?'}" + (
        "" if p.get("lang_2") in (None, p.get("lang_1")) else f"-{p['lang_2']}") for p in pairs])
    print(f"{'language':<10}{'pairs':>7}{'pearson':>9}{'precision':>11}{'recall':>8}")
    for lang in [*sorted(set(langs)), "all"]:
        pick = np.ones(len(pairs), bool) if lang == "all" else langs == lang
        r = float(np.corrcoef(scores[pick], -overall[pick])[0, 1])
        p, rec = precision_recall(scores[pick], overall[pick], threshold)
        print(f"{lang:<10}{int(pick.sum()):>7}{r:>9.3f}{p:>11.3f}{rec:>8.3f}")
    print(f"operating threshold {threshold:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=DEV, help="rated pairs to fit on")
    parser.add_argument("--check", type=Path, help="only score the shipped fit on these pairs")
    parser.add_argument("--precision", type=float, default=0.90,
                        help="same-story precision the threshold is set for")
    parser.add_argument("--version", default="1", help="version recorded in the fitted file")
    args = parser.parse_args()
    if args.check:
        pairs = read_pairs(args.check)
        model = Similarity.load()
        x = signals(pairs)
        scores = np.clip(x @ np.array(model.weights) + model.bias, 0.0, 1.0)
        report(pairs, scores, model.threshold)
        return
    pairs = read_pairs(args.pairs)
    x = signals(pairs)
    y = np.array([(4.0 - p["overall"]) / 3.0 for p in pairs])
    overall = np.array([p["overall"] for p in pairs], dtype=float)
    penalty = max(PENALTIES, key=lambda a: float(np.corrcoef(cross_validated(x, y, a), y)[0, 1]))
    scores = cross_validated(x, y, penalty)
    threshold = operating_threshold(scores, overall, args.precision)
    print(f"{len(pairs)} pairs, ridge penalty {penalty} (10-fold cross-validation):")
    report(pairs, scores, threshold)
    w, b = ridge(x, y, penalty)
    PARAMS.parent.mkdir(parents=True, exist_ok=True)
    PARAMS.write_text(json.dumps({
        "version": args.version, "features": list(FEATURES), "penalty": penalty,
        "weights": [round(float(v), 6) for v in w], "bias": round(b, 6),
        "threshold": round(threshold, 3), "fitted_on": args.pairs.name,
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {PARAMS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
