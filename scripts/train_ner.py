"""Train the entities stage's own NER models (Dutch, Italian) from ../shared.

    python scripts/train_ner.py nl it         # what `make ner-models` runs
    python scripts/train_ner.py nl --check    # only score the shipped model on the dev split

In: the language's training and development splits in ``../shared/data/ner-multilingual``
(read at run time, never copied). Out: ``workers/data/ner/newsflow-ner-<lang>.crf.ser.gz``, a
CRF of CoreNLP's (about 6 MB) that the stack's CoreNLP server loads beside its own models
(``newsflow/stack/pins.py``). Training is CoreNLP's own ``CRFClassifier``, with the feature set
of CoreNLP's CoNLL models minus their word clusters (``workers/data/ner/crf.prop``), on the
jars ``newsflow stack up`` fetched; tags are IO (B-/I- dropped), MISC kept for training (the
stage ignores it). Why CoreNLP's CRF and not a spaCy CNN of ours, and how each scores:
docs/stages/entities.md, "Other languages". German and Spanish use CoreNLP's own models.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsflow.config import load_settings  # noqa: E402
from newsflow.stack import find_java_home  # noqa: E402
from newsflow.stack.paths import Paths  # noqa: E402

SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"
MODELS = ROOT / "workers" / "data" / "ner"
PROPS = MODELS / "crf.prop"
# language -> (column separator, training file, development file) under ner-multilingual/
SPLITS = {
    "nl": (" ", "nl/ned.train", "nl/ned.testa"),
    "it": ("\t", "it/WN_train.tsv", "it/WN_dev.tsv"),
}
TYPES = ("PER", "ORG", "LOC")


def two_columns(source: Path, separator: str, target: Path) -> None:
    """token TAB IO-tag per line, a blank line between sentences, no -DOCSTART- lines."""
    out = []
    for line in source.read_text(encoding="utf-8").splitlines():
        cols = line.split(separator)
        if not line.strip():
            out.append("")
        elif cols[0] != "-DOCSTART-":
            out.append(f"{cols[0]}\t{re.sub(r'^[BI]-', '', cols[-1])}")
    target.write_text("\n".join(out) + "\n", encoding="utf-8")


def model_path(lang: str) -> Path:
    return MODELS / f"newsflow-ner-{lang}.crf.ser.gz"


def run(lang: str, work: Path, train: bool) -> str:
    """Train (or only load) the model and tag the dev split; CoreNLP's report on stderr."""
    separator, train_file, dev_file = SPLITS[lang]
    dev = work / f"{lang}.dev"
    two_columns(SHARED / "ner-multilingual" / dev_file, separator, dev)
    paths = Paths.of(load_settings())
    java = find_java_home("corenlp") / "bin" / "java"
    cmd = [str(java), "-Xmx8g", "-cp", str(paths.corenlp / "libs" / "*"),
           "edu.stanford.nlp.ie.crf.CRFClassifier", "-testFile", str(dev)]
    if train:
        two_columns(SHARED / "ner-multilingual" / train_file, separator, work / f"{lang}.train")
        cmd += ["-prop", str(PROPS), "-trainFile", str(work / f"{lang}.train"),
                "-serializeTo", str(model_path(lang))]
    else:
        cmd += ["-loadClassifier", str(model_path(lang))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return done.stderr


def score(report: str) -> dict[str, float]:
    """PER/ORG/LOC precision, recall and F1 from CoreNLP's per-type counts (MISC left out)."""
    tp = fp = fn = 0
    for line in report.splitlines():
        cols = line.split()
        if len(cols) == 7 and cols[0] in TYPES:
            tp, fp, fn = tp + int(cols[4]), fp + int(cols[5]), fn + int(cols[6])
    return {"precision": round(tp / max(tp + fp, 1), 4), "recall": round(tp / max(tp + fn, 1), 4),
            "f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="+", choices=sorted(SPLITS))
    parser.add_argument("--check", action="store_true", help="only score the shipped models")
    parser.add_argument("--work", type=Path, default=ROOT / ".stack" / "ner-train")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for lang in args.languages:
        print(f"{lang}: {'scoring' if args.check else 'training (about 10 min)'}...", flush=True)
        report = run(lang, args.work, train=not args.check)
        print(lang, score(report), "(PER/ORG/LOC on", SPLITS[lang][2] + ")", flush=True)


if __name__ == "__main__":
    main()
