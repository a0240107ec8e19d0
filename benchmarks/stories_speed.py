"""Speed and memory of the stories stage: articles placed per CPU second of the worker.

    python benchmarks/stories_speed.py                  # the similarity alone, no services
    python benchmarks/stories_speed.py --stage          # the whole stage on the stack's ES

Articles: both sides of every pair in ``--pairs`` (default
../shared/data/story-pairs/dev.jsonl), each ``--repeat`` times under new ids (a repeat is a
new outlet's copy, so later rounds join stories instead of founding them).

Without ``--stage``: each article is profiled (``workers.stories.similarity.profile``) and
scored against ``--candidates`` stories' profiles, what the stage does per article after its
kNN look-up; the word-rarity cache is emptied first. With ``--stage``: ``StoriesStage.process``
in batches of ``--batch`` over a fresh stories index in the Elasticsearch of the settings
(``newsflow stack up``), as a worker runs it: kNN look-ups, the founding lock, joins. Prints
articles per CPU second of this process (one core; Elasticsearch's own CPU is not in it),
per second of wall time, and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.procstat import peak_rss_mib  # noqa: E402
from schemas.articles import EnrichedArticle  # noqa: E402
from workers.stories.similarity import Similarity, profile, rarity  # noqa: E402

SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR", ROOT.parent / "shared")) / "data"


def articles(path: Path, repeat: int) -> list[EnrichedArticle]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        for side in ("1", "2"):
            for r in range(repeat):
                url = f"https://outlet{r}.example/{pair['id']}/{side}"
                out.append(EnrichedArticle(
                    id=uuid.uuid5(uuid.NAMESPACE_URL, url).hex, url=url, canonical_url=url,
                    source=f"outlet{r}.example", title=pair[f"title_{side}"],
                    body=pair[f"text_{side}"], language=pair.get(f"lang_{side}"),
                    word_count=len(pair[f"text_{side}"].split()), cluster_id=url,
                    text_hash=url))
    return out


def similarity_only(items: list[EnrichedArticle], candidates: int) -> None:
    model = Similarity.load()
    rarity.cache_clear()
    start = time.process_time()
    stories = [profile(a.title or "", a.body, a.language) for a in items[:candidates]]
    for a in items:
        p = profile(a.title or "", a.body, a.language)
        for story in stories:
            model.score(p, story)
    cpu = time.process_time() - start
    print(f"similarity: {len(items)} articles, {candidates} candidates each: "
          f"{len(items) / cpu:,.0f} articles/CPU-s")


def whole_stage(items: list[EnrichedArticle], batch: int, candidates: int) -> None:
    from newsflow.config import load_settings
    from workers.io import elastic
    from workers.stories.es_store import ElasticsearchStore
    from workers.stories.stage import StoriesStage

    settings = load_settings(es_alias=f"bench-{uuid.uuid4().hex[:8]}")
    es = elastic.client(settings)
    stage = StoriesStage(ElasticsearchStore(es, settings.stories_index), Similarity.load(),
                         window_days=7, candidates=candidates)
    try:
        start, wall = time.process_time(), time.monotonic()
        stories = set()
        for i in range(0, len(items), batch):
            for outcome in stage.process(items[i:i + batch]):
                stories.add(outcome.article.story_id)  # type: ignore[union-attr]
        cpu, wall = time.process_time() - start, time.monotonic() - wall
        print(f"stage: {len(items)} articles in batches of {batch}, {len(stories)} stories: "
              f"{len(items) / cpu:,.0f} articles/CPU-s, {len(items) / wall:,.0f} a second "
              f"of wall time")
    finally:
        elastic.drop_index(es, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=SHARED / "story-pairs" / "dev.jsonl",
                        help="JSONL of article pairs whose articles are placed")
    parser.add_argument("--repeat", type=int, default=1,
                        help="copies of each article, from other outlets")
    parser.add_argument("--candidates", type=int, default=10,
                        help="stories each article is scored against")
    parser.add_argument("--stage", action="store_true",
                        help="run the whole stage on the stack's Elasticsearch")
    parser.add_argument("--batch", type=int, default=100, help="articles per batch (--stage)")
    args = parser.parse_args()
    items = articles(args.pairs, args.repeat)
    chars = sum(len(a.title or "") + len(a.body) for a in items) / len(items)
    print(f"{len(items)} articles of {chars:,.0f} characters on average")
    if args.stage:
        whole_stage(items, args.batch, args.candidates)
    else:
        similarity_only(items, args.candidates)
    print(f"peak RSS {peak_rss_mib(os.getpid()):.0f} MiB")


if __name__ == "__main__":
    main()
