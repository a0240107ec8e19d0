"""Speed of the clean stage, in articles per second on one core, for HTML and for text input.

    .venv/bin/python benchmarks/clean_speed.py [--html PATH] [--text PATH] [--rounds N]

HTML input: the pages of ``../shared/data/extraction-dev`` (as crawlers publish them:
``url`` + ``html``). Text input: the bodies of ``../shared/data/bbc-news/bbc-news.jsonl``
(``url`` + ``title`` + ``text``, as feeds and archives publish them). Articles go through
``CleanStage.process`` in batches, as in the worker.

Two figures per input:
- ``wall``: the stage as deployed (extraction in its time-limited child process); one worker
  keeps one core busy, since it waits for its child. On a shared machine this is noisy.
- ``cpu``: the same work in-process, divided by the CPU time it took: articles per
  CPU-second, i.e. per core, and much less sensitive to other load on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_extraction import DEFAULT_PATH, load  # noqa: E402

from schemas.articles import RawArticle  # noqa: E402
from workers.clean.stage import CleanStage  # noqa: E402
from workers.stage import Emit  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc-news" / "bbc-news.jsonl"
BATCH = 200  # the worker's default batch size


def html_articles(path: Path) -> list[RawArticle]:
    return [RawArticle(url=url, html=html) for url, html, _ in load(path).values()]


def text_articles(path: Path) -> list[RawArticle]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [
        RawArticle(
            url=f"https://bbc.example/{row['id']}",
            title=row["title"],
            text=row["body"],
            source=row.get("source"),
        )
        for row in rows
    ]


def run(
    stage: CleanStage, articles: list[RawArticle], rounds: int, clock: Callable[[], float]
) -> tuple[float, int]:
    """Seconds by ``clock`` for ``rounds`` passes, and how many articles were emitted."""
    stage.process(articles[:1])  # warm up: child process, language model, caches
    start, emitted = clock(), 0
    for _ in range(rounds):
        for i in range(0, len(articles), BATCH):
            emitted += sum(isinstance(o, Emit) for o in stage.process(articles[i : i + BATCH]))
    return clock() - start, emitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=DEFAULT_PATH, help="extraction-dev folder")
    parser.add_argument("--text", type=Path, default=BBC, help="bbc-news.jsonl")
    parser.add_argument("--rounds", type=int, default=1, help="passes over each data set")
    args = parser.parse_args()

    inputs = {"html": html_articles(args.html), "text": text_articles(args.text)}
    for kind, articles in inputs.items():
        n = len(articles) * args.rounds
        deployed = CleanStage(min_words=20)
        try:
            wall, emitted = run(deployed, articles, args.rounds, time.perf_counter)
        finally:
            deployed.close()
        cpu, _ = run(
            CleanStage(min_words=20, time_limit=None), articles, args.rounds, time.process_time
        )
        print(
            f"{kind:<5} articles={n:<5} emitted={emitted:<5} "
            f"wall={n / wall:8.1f}/s  cpu={n / cpu:8.1f}/s per core"
        )


if __name__ == "__main__":
    main()
