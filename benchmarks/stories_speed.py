"""Speed and memory of the stories similarity: articles profiled and scored per CPU second.

    python benchmarks/stories_speed.py [--pairs PAIRS.jsonl] [--candidates 10] [--rounds 3]

Each article of the pairs file (both sides; default ../shared/data/story-pairs/dev.jsonl) is
profiled once (``workers.stories.similarity.profile``: title, lead, text up to TEXT_CHARS)
and scored against ``--candidates`` stories' profiles, what the stage does per article after
its kNN look-up. The word-rarity cache is emptied before each round, so every round pays
for its first look-ups as a worker does. Prints articles per CPU second of this process (one
core) and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.procstat import peak_rss_mib  # noqa: E402
from workers.stories.similarity import Similarity, profile, rarity  # noqa: E402

SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=SHARED / "story-pairs" / "dev.jsonl",
                        help="JSONL of article pairs whose articles are scored")
    parser.add_argument("--candidates", type=int, default=10,
                        help="stories each article is scored against")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole set is run")
    args = parser.parse_args()
    articles = []
    for line in args.pairs.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        for side in ("1", "2"):
            articles.append((pair[f"title_{side}"], pair[f"text_{side}"], pair.get(f"lang_{side}")))
    model = Similarity.load()
    chars = sum(len(t) + len(x) for t, x, _ in articles) / len(articles)
    for round_ in range(1, args.rounds + 1):
        rarity.cache_clear()
        start = time.process_time()
        stories = [profile(*a) for a in articles[: args.candidates]]
        for title, text, lang in articles:
            p = profile(title, text, lang)
            for story in stories:
                model.score(p, story)
        cpu = time.process_time() - start
        print(f"round {round_}: {len(articles)} articles ({chars:,.0f} chars on average), "
              f"{args.candidates} candidates each: {len(articles) / cpu:,.0f} articles/CPU-s")
    print(f"peak RSS {peak_rss_mib(os.getpid()):.0f} MiB")


if __name__ == "__main__":
    main()
