"""Memory of the entities stage over a long stream: does a worker that runs for weeks grow?

    python benchmarks/entities_memory.py                 # Reuters NORM + BBC, 3 passes
    python benchmarks/entities_memory.py --passes 5 --limit 5000

The stage is run in batches like the worker's over the corpora, pass after pass. Each pass
after the first changes every number in the texts (prices, dates, figures: the new words a news
stream brings every day), so the model sees new words, not a text it has cached. Printed after
each pass, with spaCy's memory zones and without them (each in a process of its own, with the
stage as ``build`` makes it, the CoreNLP server of the stack by default): the strings in
spaCy's vocabulary, the process's RSS and its peak, and the CPU per 1,000 articles, this
process's and the CoreNLP server's together.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from eval_entities import article, batched, bodies
from procstat import cpu_seconds, service_pids

from newsflow.config import Settings
from workers.entities.stage import build
from workers.stage import StageContext

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared"))
CORPORA = [SHARED / "data/reuters21578/reuters21578.jsonl.gz",
           SHARED / "data/bbc-news/bbc-news.jsonl"]
BATCH = Settings.model_fields["batch_size"].default  # the worker's batch size


def renumbered(text: str, n: int) -> str:
    """Every number of the text shifted by a pass-dependent amount: pass 0 leaves it."""
    return re.sub(r"\d+", lambda m: str(int(m.group()) + n * 7919), text) if n else text


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(texts: list[str], passes: int, zones: bool) -> Iterator[dict[str, float]]:
    settings = Settings()
    server = service_pids().get("corenlp") if settings.ner_backend == "corenlp" else None
    if settings.ner_backend == "corenlp" and server is None:
        raise SystemExit("no local CoreNLP server (start it: `newsflow stack up --no-workers`)")
    stage = build(settings, StageContext(offline=True))
    assert stage.nlp is not None
    if not zones:
        stage.zone_after = sys.maxsize  # never: the stage as it was before memory zones
    done = 0
    for n in range(passes):
        items = [article(f"p{n}-{i}", renumbered(t, n)) for i, t in enumerate(texts)]
        c0, s0 = time.process_time(), cpu_seconds(server) if server else 0.0
        for chunk in batched(items, BATCH):
            stage.process(chunk)
        cpu = time.process_time() - c0 + (cpu_seconds(server) - s0 if server else 0.0)
        done += len(items)
        yield {
            "pass": n + 1, "articles": done, "strings": len(stage.nlp.vocab.strings),
            "rss": rss_mib(), "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_per_1000": cpu / len(items) * 1000,
        }
    stage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="*", type=Path, default=CORPORA,
                        help="JSONL files of articles, gzip or not (default: the shared "
                        "Reuters-21578 NORM records and the BBC corpus; env NEWSFLOW_SHARED_DIR)")
    parser.add_argument("--passes", type=int, default=3, help="passes over the corpora (default 3)")
    parser.add_argument("--limit", type=int, default=10**9,
                        help="articles per pass, at most (default: all)")
    parser.add_argument("--zones", choices=["on", "off"],
                        help="measure one way only, in this process (default: both, each in a "
                        "process of its own)")
    args = parser.parse_args()
    for path in args.corpus:
        if not path.is_file():
            parser.error(f"no corpus file {path}")
    if args.passes < 1 or args.limit < 1:
        parser.error("--passes and --limit must be at least 1")
    if args.zones:
        try:
            texts = bodies(args.corpus, args.limit)
        except ValueError as error:
            parser.error(str(error))
        for row in measure(texts, args.passes, args.zones == "on"):
            print(json.dumps(row), flush=True)
        return
    print("| memory zones | pass | articles | strings in the vocabulary | RSS MiB | peak RSS MiB "
          "| CPU s per 1,000 articles |")
    print("|---|---|---|---|---|---|---|")
    for zones in ("off", "on"):
        command = [sys.executable, __file__, *map(str, args.corpus), "--passes", str(args.passes),
                   "--limit", str(args.limit), "--zones", zones]
        run = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if run.returncode:  # it said why on stderr
            sys.exit(run.returncode)
        for line in run.stdout.splitlines():
            r = json.loads(line)
            print(f"| {zones} | {r['pass']} | {r['articles']:,} | {r['strings']:,} | "
                  f"{r['rss']:.0f} | {r['peak']:.0f} | {r['cpu_per_1000']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
