"""Dedup cost as the shared state grows: articles/s against a real Elasticsearch state index.

    .venv/bin/python benchmarks/dedup_scale.py [--reuters PATH] [--total N] [--window N]
                                               [--checkpoints 0,20000,200000] [--keep]
                                               [--partitions N]

The stage runs as a worker runs it (``DedupStage`` + ``ElasticsearchStore``, batches of
``Settings.batch_size``) but without Kafka, on a stream of articles: first the Reuters-21578
NORM records (``--reuters``, default ../shared/data/reuters21578), then the same records
re-published again and again under new URLs (``https://repub-<g>.example.org/<newid>``) with
small generated variations (a byline, one or two words changed, sometimes the last sentence
dropped), so that from 19,043 on nearly every article has near-duplicates in the state.

At each checkpoint (articles already in the state) the next ``--window`` articles are timed:
that is the articles/s reported, with the CPU the stage (this process) and the local
Elasticsearch used per article in that window. ``--partitions 3`` spreads the state over
three time partitions, as a worker of dedup 2.1 reads them in the steady state (every id
looked up in each). Then the state's store size
(``_stats``, primary store, after a refresh) is divided by the articles in it and scaled to a
million.

Elasticsearch is ``NEWSFLOW_ES_URL`` (default the shared stack's http://127.0.0.1:9200); the
state index is ``dedup-scale-<uuid>``, deleted at the end unless ``--keep``. Timings on a shared
machine are noisy: run it twice and compare.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from benchmarks.procstat import cpu_seconds, service_pids  # noqa: E402
from newsflow.config import load_settings  # noqa: E402
from schemas.articles import CleanArticle, article_id, canonical_url  # noqa: E402
from workers.dedup.es_store import ElasticsearchStore  # noqa: E402
from workers.dedup.partitions import DAY, Partitions  # noqa: E402
from workers.dedup.stage import DedupStage  # noqa: E402
from workers.io import elastic  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "data" / "reuters21578"
_WORD = re.compile(r"\w+")
BYLINES = ["By staff reporters", "From our wire desk", "Agency report", "By a correspondent"]


def reuters(path: Path) -> list[tuple[str, str, str]]:
    """(newid, title, body) of the NORM records, in file order."""
    with gzip.open(path / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        (str(r["newid"]), r.get("title") or "", r.get("body") or "")
        for r in rows
        if r.get("text_type") == "NORM" and _WORD.search(r.get("body") or "")
    ]


def vary(rng: random.Random, body: str) -> str:
    """A republished copy: a byline, one or two words swapped, sometimes the end cut."""
    words = body.split(" ")
    for _ in range(rng.randint(1, 2)):
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    text = " ".join(words)
    if rng.random() < 0.3 and text.count(".") > 2:
        text = text[: text.rstrip(". \n").rfind(".") + 1]
    return f"{rng.choice(BYLINES)}\n{text}"


def stream(records: Sequence[tuple[str, str, str]], total: int) -> Iterator[CleanArticle]:
    rng = random.Random(5)
    for n in range(total):
        generation, (newid, title, body) = divmod(n, len(records))[0], records[n % len(records)]
        host = "reuters.example.org" if generation == 0 else f"repub-{generation}.example.org"
        url = f"https://{host}/{newid}"
        text = body if generation == 0 else vary(rng, body)
        yield CleanArticle(
            id=article_id(url),
            url=url,
            canonical_url=canonical_url(url),
            source=host,
            title=title,
            body=text,
            word_count=len(_WORD.findall(text)),
        )


def es_cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reuters", type=Path, default=DEFAULT_PATH,
                        help="the Reuters-21578 folder (default ../shared/data/reuters21578)")
    parser.add_argument("--total", type=int, default=205_000, help="articles in all")
    parser.add_argument("--window", type=int, default=5000, help="articles timed per point")
    parser.add_argument("--checkpoints", default="0,20000,200000",
                        help="state sizes (articles already in it) at which a window is timed")
    parser.add_argument("--keep", action="store_true", help="keep the state index")
    parser.add_argument("--partitions", type=int, default=1,
                        help="spread the state over this many time partitions, as a worker "
                        "in the steady state reads them: the store's clock moves on by "
                        "NEWSFLOW_DEDUP_PARTITION_DAYS every --total/N articles (default 1)")
    args = parser.parse_args(argv)
    settings = load_settings()
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    es = elastic.client(settings)
    index = f"dedup-scale-{uuid.uuid4().hex[:10]}"
    # The store's clock: the start of a partition, moved on by a partition every --total /
    # --partitions articles (a window of at least two partitions keeps them all readable).
    parts = Partitions(index, settings.dedup_window_days, settings.dedup_partition_days)
    origin = time.time() // (parts.partition_days * DAY) * parts.partition_days * DAY + 3600
    per_partition = -(-args.total // max(1, args.partitions))
    done = 0
    store = ElasticsearchStore(
        es, parts,
        clock=lambda: origin + done // per_partition * parts.partition_days * DAY)
    stage = DedupStage(store, threshold=settings.dedup_threshold)
    print(
        f"es {settings.es_url}, state index {index}, threshold {settings.dedup_threshold}, "
        f"batch {settings.batch_size}",
        flush=True,
    )
    results: list[dict[str, float]] = []
    try:
        batch: list[CleanArticle] = []
        duplicates = 0
        es_pid = service_pids().get("elasticsearch")  # None: not on this machine
        # (checkpoint, start, round trips, our CPU, Elasticsearch's CPU)
        timing: tuple[int, float, int, float, float] | None = None
        started = time.perf_counter()
        for article in stream(reuters(args.reuters), args.total):
            batch.append(article)
            if len(batch) < settings.batch_size:
                continue
            if timing is None and checkpoints and done >= checkpoints[0]:
                timing = (checkpoints.pop(0), time.perf_counter(), store.round_trips,
                          time.process_time(), es_cpu(es_pid))
                timed_from = done
            outcomes = stage.process(batch)
            duplicates += sum(
                getattr(getattr(o, "article", None), "is_duplicate", 0) for o in outcomes
            )
            done += len(batch)
            batch = []
            if timing is not None and done - timed_from >= args.window:
                point, t0, trips, ours, theirs = timing
                seconds = time.perf_counter() - t0
                rate = (done - timed_from) / seconds
                results.append({"state": point, "articles_per_s": rate})
                timed = done - timed_from
                per_batch = (store.round_trips - trips) / (timed / settings.batch_size)
                ours = (time.process_time() - ours) * 1000 / timed
                theirs = (es_cpu(es_pid) - theirs) * 1000 / timed
                print(
                    f"state {point:>7,} articles: {rate:7.1f} articles/s over {timed:,} "
                    f"({per_batch:.2f} ES requests per batch; CPU ms per article: stage "
                    f"{ours:.2f}, Elasticsearch {theirs:.2f})",
                    flush=True,
                )
                timing = None
            if done % 10_000 == 0:
                print(
                    f"  ... {done:,} articles, {duplicates:,} marked duplicate, "
                    f"{done / (time.perf_counter() - started):.0f}/s overall",
                    flush=True,
                )
        print(f"state partitions read per batch: {len(store.readable)}", flush=True)
        es.indices.refresh(index=store.readable)
        stats = es.indices.stats(index=store.readable,
                                 metric="store,docs")["_all"]["primaries"]
        size, docs = stats["store"]["size_in_bytes"], stats["docs"]["count"]
        print(
            f"state index: {docs:,} docs, {size / 1e6:.1f} MB for {done:,} articles = "
            f"{size / done:.0f} bytes/article = {size / done / 1000:.2f} GB per million articles"
        )
        if len(results) >= 2:
            ratio = results[0]["articles_per_s"] / results[-1]["articles_per_s"]
            print(f"first/last articles/s (slowdown): {ratio:.2f}x")
    finally:
        if not args.keep:
            for partition in store.readable:
                es.indices.delete(index=partition, ignore_unavailable=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
