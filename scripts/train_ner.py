"""Train the entities stage's own NER models (Dutch, Italian) from ../shared.

    python scripts/train_ner.py nl it         # what `make ner-models` runs
    python scripts/train_ner.py nl --check    # only score the shipped model on the dev split
    python scripts/train_ner.py es            # Spanish too, for comparison (not shipped)

In: the language's training and development splits in ``../shared/data/ner-multilingual``
(read at run time, never copied). Out: a spaCy pipeline with a tokenizer, a small CNN tok2vec
and NER (PER/ORG/LOC; MISC is dropped from the gold before training, as the stage never reports
it) in ``workers/data/ner/newsflow_ner_<lang>``, a few MB, which the stage loads like a spaCy
package (``WorkerSettings.spacy_models``). Training is spaCy's own (``spacy train``, fixed seed, one
thread), with the config in ``workers/data/ner/ner.cfg``; the dev split picks the best
checkpoint. German and Spanish run CoreNLP's models instead (German's only split here is
GermEval's development set, too small to learn from; CoreNLP's Spanish model reads CoNLL-2002
better than ours does): docs/stages/entities.md compares them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import biluo_tags_to_spans, iob_to_biluo

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"
MODELS = ROOT / "workers" / "data" / "ner"
CONFIG = MODELS / "ner.cfg"
TYPES = {"PER", "ORG", "LOC"}
# language -> (format, training file, development file) under ner-multilingual/
SPLITS = {
    "es": ("conll2002", "es/esp.train", "es/esp.testa"),
    "nl": ("conll2002", "nl/ned.train", "nl/ned.testa"),
    "it": ("kind", "it/WN_train.tsv", "it/WN_dev.tsv"),
}
# Sentences per training document: NER sees a few sentences of context, as in an article.
SENTENCES_PER_DOC = 8


def sentences(path: Path, fmt: str) -> Iterator[list[tuple[str, str]]]:
    """(token, IOB2 tag) per sentence; tags outside PER/ORG/LOC become O."""
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t") if fmt == "kind" else line.split(" ")
        if not line.strip() or cols[0] == "-DOCSTART-":
            if sentence:
                yield sentence
            sentence = []
            continue
        token, tag = cols[0], cols[-1]
        sentence.append((token, tag if tag[2:] in TYPES else "O"))
    if sentence:
        yield sentence


def docs(path: Path, fmt: str, lang: str) -> Iterator[Doc]:
    vocab = spacy.blank(lang).vocab
    batch: list[list[tuple[str, str]]] = []
    for sentence in sentences(path, fmt):
        batch.append(sentence)
        if len(batch) == SENTENCES_PER_DOC:
            yield _doc(vocab, batch)
            batch = []
    if batch:
        yield _doc(vocab, batch)


def _doc(vocab: spacy.vocab.Vocab, batch: list[list[tuple[str, str]]]) -> Doc:
    words = [t for s in batch for t, _ in s]
    tags = [tag for s in batch for _, tag in s]
    starts: list[bool | int | None] = [i == 0 for s in batch for i in range(len(s))]
    doc = Doc(vocab, words=words, sent_starts=starts)
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    return doc


def write_corpus(lang: str, work: Path) -> tuple[Path, Path]:
    fmt, train, dev = SPLITS[lang]
    out = []
    for name, rel in (("train", train), ("dev", dev)):
        path = work / f"{lang}-{name}.spacy"
        DocBin(docs=docs(SHARED / "ner-multilingual" / rel, fmt, lang)).to_disk(path)
        out.append(path)
    return out[0], out[1]


def train(lang: str, work: Path) -> Path:
    train_path, dev_path = write_corpus(lang, work)
    output = work / f"{lang}-model"
    shutil.rmtree(output, ignore_errors=True)
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIG), "--output", str(output),
           "--nlp.lang", lang, "--paths.train", str(train_path), "--paths.dev", str(dev_path)]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    target = MODELS / f"newsflow_ner_{lang}"
    shutil.rmtree(target, ignore_errors=True)
    nlp = spacy.load(output / "model-best")
    nlp.meta.update({"name": f"newsflow_ner_{lang}", "version": "1.0.0",
                     "sources": [{"name": SPLITS[lang][1], "license": _licence(lang)}]})
    nlp.to_disk(target)
    return target


def _licence(lang: str) -> str:
    return {"es": "CoNLL-2002, research use only", "nl": "CoNLL-2002, research use only",
            "it": "KIND, CC BY-NC 4.0"}[lang]


def score(lang: str, work: Path) -> dict[str, float]:
    """Token-exact PER/ORG/LOC F1 of the shipped model on the development split."""
    _, dev_path = write_corpus(lang, work)
    nlp = spacy.load(MODELS / f"newsflow_ner_{lang}")
    gold = list(DocBin().from_disk(dev_path).get_docs(nlp.vocab))
    tp = fp = fn = 0
    for ref, pred in zip(gold, nlp.pipe(Doc(nlp.vocab, words=[t.text for t in g]) for g in gold),
                         strict=True):
        g = {(e.start, e.end, e.label_) for e in ref.ents}
        p = {(e.start, e.end, e.label_) for e in pred.ents if e.label_ in TYPES}
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "f1": 2 * tp / max(2 * tp + fp + fn, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="+", choices=sorted(SPLITS))
    parser.add_argument("--check", action="store_true", help="only score the shipped models")
    parser.add_argument("--work", type=Path, default=ROOT / ".stack" / "ner-train")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for lang in args.languages:
        if not args.check:
            print(f"{lang}: trained into {train(lang, args.work)}", flush=True)
        print(json.dumps({"language": lang, **score(lang, args.work)}), flush=True)


if __name__ == "__main__":
    main()
