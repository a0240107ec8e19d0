"""How the clean stage's ``not-text`` check does: real articles kept, noise skipped.

    .venv/bin/python benchmarks/eval_not_text.py [--shared DIR] [--noise N] [--json]

Real articles: every record of the shared corpora (BBC News, all of Reuters-21578, the
story-pairs texts, the seed article, the multilingual entity sets regrouped as documents of
40 sentences) sent as ``text``, and every page of extraction-dev sent as ``html``; each goes
through the clean stage as a raw article, exactly as it would arrive. Noise: N samples of
each kind below, 5,000 random bytes or characters each, sent as ``text``. Printed: outcomes
by reason per corpus, every real article skipped as ``not-text`` (there should be none), and
how many of each noise kind the check caught.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import string
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from flows.archives import from_bbc, from_reuters  # noqa: E402
from schemas.articles import RawArticle  # noqa: E402
from workers.clean.stage import CleanStage  # noqa: E402
from workers.stage import Emit, Skip  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared"
NOISE_BYTES = 5000


def corpora(data: Path) -> Iterator[tuple[str, dict[str, object]]]:
    """(corpus, raw article) for every real article of the shared data."""
    with (data / "bbc-news" / "bbc-news.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            yield "bbc-news", from_bbc(json.loads(line))
    with gzip.open(data / "reuters21578" / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            yield "reuters21578", from_reuters(json.loads(line))
    pages = data / "extraction-dev"
    for page_id, gold in json.loads((pages / "ground-truth.json").read_text()).items():
        html = gzip.decompress((pages / "html" / f"{page_id}.html.gz").read_bytes())
        yield "extraction-dev", {"url": gold["url"], "html": html.decode("utf-8", "replace")}
    with (data / "story-pairs" / "dev.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            pair = json.loads(line)
            for i in (1, 2):
                if pair.get(f"text_{i}"):
                    yield f"story-pairs-{pair[f'lang_{i}']}", {
                        "url": f"https://story-pairs.invalid/{pair['id']}/{i}",
                        "title": pair.get(f"title_{i}"), "text": pair[f"text_{i}"]}
    for seed in sorted((data / "seed").glob("*.txt")):
        title, _, text = seed.read_text(encoding="utf-8").partition("\n")
        yield "seed", {"url": "https://seed.invalid/1", "title": title, "text": text}
    for language, path in (("es", "es/esp.train"), ("nl", "nl/ned.train"),
                           ("de", "de/NER-de-dev.tsv"), ("it", "it/WN_train.tsv")):
        for n, text in enumerate(ner_documents(data / "ner-multilingual" / path)):
            yield f"ner-{language}", {"url": f"https://ner.invalid/{language}/{n}", "text": text}


def ner_documents(path: Path, sentences: int = 40) -> Iterator[str]:
    """A token-per-line entity set regrouped as documents of ``sentences`` sentences."""
    words: list[str] = []
    doc: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("#", "-DOCSTART-")):
            continue
        if not line.strip():
            if words:
                doc.append(" ".join(words))
                words = []
            if len(doc) >= sentences:
                yield " ".join(doc)
                doc = []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        words.append(columns[1] if path.suffix == ".tsv" and len(columns) > 3 else columns[0])
    if doc:
        yield " ".join(doc)


def noise(samples: int, seed: int = 1) -> Iterator[tuple[str, str]]:
    """(kind, text) of random data dressed as text, ``samples`` of each kind."""
    rnd = random.Random(seed)
    for _ in range(samples):
        data = rnd.randbytes(NOISE_BYTES)
        yield "bytes as latin-1", data.decode("latin-1")
        yield "bytes as utf-8 (replaced)", data.decode("utf-8", "replace")
        yield "bytes as cp1252 (replaced)", data.decode("cp1252", "replace")
        yield "control characters", "".join(chr(rnd.randrange(32)) for _ in range(NOISE_BYTES))
        yield "printable ASCII", "".join(rnd.choice(string.printable)
                                         for _ in range(NOISE_BYTES))
        yield "base64", base64.b64encode(data).decode()
        yield "hex dump", data.hex(" ", 2)
        yield "random code points", "".join(chr(rnd.randrange(0x20, 0x3000))
                                            for _ in range(NOISE_BYTES))


def outcome(stage: CleanStage, record: dict[str, object]) -> str:
    [result] = stage.process([RawArticle.model_validate(record)])
    if isinstance(result, Emit):
        return "emitted"
    if isinstance(result, Skip):
        return f"skipped {result.reason}"
    return "failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared folder (with data/) [default: ../shared]")
    parser.add_argument("--noise", type=int, default=50, help="samples of each noise kind")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args()
    stage = CleanStage(min_words=20)
    real: dict[str, Counter[str]] = {}
    lost: list[str] = []
    try:
        for corpus, record in corpora(args.shared / "data"):
            result = outcome(stage, record)
            real.setdefault(corpus, Counter())[result] += 1
            if result == "skipped not-text":
                lost.append(f"{corpus} {record['url']}")
        caught: dict[str, Counter[str]] = {}
        for kind, text in noise(args.noise):
            record = {"url": "https://noise.invalid/1", "text": text}
            caught.setdefault(kind, Counter())[outcome(stage, record)] += 1
    finally:
        stage.close()
    if args.json:
        print(json.dumps({"real": real, "real_not_text": lost, "noise": caught}, indent=1))
        return
    print(f"real articles: {sum(sum(c.values()) for c in real.values())}, "
          f"skipped as not-text: {len(lost)}")
    for corpus, counts in real.items():
        print(f"  {corpus:22s} {sum(counts.values()):6d}  {dict(counts.most_common())}")
    for line in lost:
        print(f"  NOT-TEXT: {line}")
    print("noise (caught = skipped as not-text):")
    for kind, counts in caught.items():
        print(f"  {kind:28s} {counts['skipped not-text']}/{sum(counts.values())} caught  "
              f"{dict(counts.most_common())}")


if __name__ == "__main__":
    main()
