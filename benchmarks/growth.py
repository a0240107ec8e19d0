"""Growth of every store per 100,000 articles, and its steady state under the retention defaults.

    python benchmarks/growth.py [--articles 5000] [--runs 10] [--per-day 500000]

A sample of the shared corpora (Reuters NORM and BBC, as ``throughput.py`` mixes them, each
under a URL of this run; ``NEWSFLOW_SHARED_DIR``) goes through real worker processes on topics,
groups, an index and a dedup state of its own (``benchmarks/namespace.py``), published by
``--runs`` runs of the ``publish`` flow on the Prefect server, plus ``--dead-letters`` copies
under an ``ftp://`` URL, which the clean stage dead-letters (the corpus has no bad input).
When every article is indexed, skipped or dead-lettered, it measures the bytes each store added:

- each Kafka topic: its log segments (``*.log`` under ``<stack_dir>/kafka/data/<topic>-<p>``);
- the news index: store size of its primaries after a flush and a merge to one segment;
- the dedup state: the same for its partition, and each kind of document (article records,
  band claims, hash claims) copied into an index of its own and measured the same way;
- Prefect's database: pages in use in ``<stack_dir>/prefect/prefect.db`` (SQLite, WAL
  included) before and after the publish runs, per flow run. Anything else using the same
  server meanwhile is counted too: run it on a quiet server.

Then prints a Markdown table: bytes per article, per 100,000 articles, and the steady state at
``--per-day`` articles a day under each store's retention default. Everything it made is
deleted at the end; nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newsflow.config import Settings, load_settings  # noqa: E402

# The publish flow runs are recorded on the configured Prefect server, not a temporary one:
# Prefect reads this when it is imported.
os.environ.setdefault("PREFECT_API_URL", load_settings().prefect_api_url)

from benchmarks.namespace import Namespace, namespace  # noqa: E402
from benchmarks.throughput import load_articles  # noqa: E402
from flows.publish import publish_flow  # noqa: E402
from workers.dedup.es_store import STATE_MAPPINGS, STATE_SETTINGS  # noqa: E402
from workers.io import elastic, kafka_admin  # noqa: E402
from workers.topology import DLQ, RAW, SKIPPED  # noqa: E402

TOPICS = (RAW, "clean", "deduped", "enriched", SKIPPED, DLQ)
KINDS = {"article": "near-dup records", "band": "band claims", "hash": "exact-hash claims"}


@dataclass
class Row:
    store: str
    bytes_per_article: float
    retention: str  # the default, in words
    retained_days: float | None  # articles' worth of days kept at steady state; None: for ever


def prefect_db_bytes(db: Path) -> int:
    """Bytes of the SQLite database's pages in use (committed WAL frames included)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page)


def topic_bytes(kafka_data: Path, topic: str) -> int:
    return sum(f.stat().st_size for d in kafka_data.glob(f"{topic}-*") if d.is_dir()
               for f in d.glob("*.log"))


def merged_size(es: Elasticsearch, index: str | list[str]) -> tuple[int, int]:
    """(store bytes of the primaries, documents) after a flush and a merge to one segment."""
    es.indices.refresh(index=index)
    es.indices.flush(index=index)
    es.indices.forcemerge(index=index, max_num_segments=1, wait_for_completion=True)
    stats = es.indices.stats(index=index, metric="store,docs")["_all"]["primaries"]
    return int(stats["store"]["size_in_bytes"]), int(stats["docs"]["count"])


def state_by_kind(es: Elasticsearch, partitions: list[str], stem: str) -> dict[str, int]:
    """Store bytes of each kind of dedup state document, each copied to an index of its own
    (named ``<stem>-kind-<kind>``: dropped with the state by ``elastic.drop_index``)."""
    sizes = {}
    for kind in KINDS:
        target = f"{stem}-kind-{kind}"
        es.indices.create(index=target, settings=STATE_SETTINGS, mappings=STATE_MAPPINGS)
        docs = helpers.scan(es, index=partitions, query={"query": {"term": {"kind": kind}}})
        helpers.bulk(es, ({"_index": target, "_id": d["_id"], "_source": d["_source"]}
                          for d in docs), chunk_size=2000)
        sizes[kind], _ = merged_size(es, target)
    return sizes


def wait_until_done(ns: Namespace, total: int, timeout: float) -> int:
    """Wait until every message is indexed, skipped or dead-lettered; returns those indexed."""
    deadline = time.monotonic() + timeout
    with kafka_admin.Offsets(ns.settings) as offsets:
        while True:
            indexed = elastic.count(ns.es, ns.settings)
            side = sum(sum(offsets.end_offsets(ns.settings.topic(k)).values())
                       for k in (DLQ, SKIPPED))
            print(f"\r  indexed {indexed}, skipped + dead-lettered {side} of {total}", end="",
                  flush=True)
            if indexed + side >= total:
                print()
                return indexed
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {indexed + side} of {total} accounted for")
            time.sleep(2)


def measure(base: Settings, messages: list[bytes], bad: list[bytes], runs: int,
            timeout: float) -> tuple[dict[str, float], dict[str, int]]:
    """Bytes per store, and counts: articles, dead letters, flow runs."""
    kafka_data = base.stack_dir / "kafka" / "data"
    db = base.stack_dir / "prefect" / "prefect.db"
    with namespace(base, "growth") as ns, tempfile.TemporaryDirectory() as tmp:
        time.sleep(8)  # the workers join their groups
        chunks = [messages[i::runs] for i in range(runs)]
        chunks[0] = chunks[0] + bad
        db_before = prefect_db_bytes(db)
        for n, chunk in enumerate(chunks):
            path = Path(tmp) / f"chunk-{n}.jsonl"
            path.write_bytes(b"\n".join(chunk) + b"\n")
            publish_flow(paths=[str(path)], settings=ns.settings)
        db_after = prefect_db_bytes(db)
        indexed = wait_until_done(ns, len(messages) + len(bad), timeout)
        time.sleep(2)  # the last commits
        sizes: dict[str, float] = {}
        for kind in TOPICS:
            sizes[f"topic {kind}"] = topic_bytes(kafka_data, ns.settings.topic(kind))
        # The dead letters' inputs passed through raw too: leave out their share, pro rata.
        sizes[f"topic {RAW}"] *= len(messages) / (len(messages) + len(bad))
        news = list(ns.es.indices.get_alias(name=ns.settings.es_alias))
        sizes["news index"], _ = merged_size(ns.es, news)
        stem = ns.settings.dedup_index
        partitions = [i for i in ns.es.indices.get(index=f"{stem}-*")
                      if "-kind-" not in i]
        sizes["dedup state"], state_docs = merged_size(ns.es, partitions)
        for kind, size in state_by_kind(ns.es, partitions, stem).items():
            sizes[f"dedup {kind}"] = size
        sizes["prefect db"] = db_after - db_before
        counts = {"articles": len(messages), "indexed": indexed, "dead letters": len(bad),
                  "runs": runs, "state documents": state_docs}
        return sizes, counts


def table(sizes: dict[str, float], counts: dict[str, int], settings: Settings, per_day: int,
          dlq_rate: float, runs_per_day: int) -> list[str]:
    n, runs = counts["articles"], counts["runs"]
    topic_days = settings.topic_retention_hours / 24
    window = settings.dedup_window_days + settings.dedup_partition_days / 2  # on average
    rows = [Row(f"topic `{k}`", sizes[f"topic {k}"] / n,
                f"{topic_days:g} days (`TOPIC_RETENTION_HOURS`)", topic_days)
            for k in TOPICS if k != DLQ]
    per_dead_letter = sizes[f"topic {DLQ}"] / max(1, counts["dead letters"])
    rows.append(Row(f"topic `{DLQ}` (at {dlq_rate:.0%} dead-lettered)",
                    per_dead_letter * dlq_rate, f"{settings.dlq_retention_hours / 24:g} days "
                    "(`DLQ_RETENTION_HOURS`)", settings.dlq_retention_hours / 24))
    rows.append(Row("news index (all generations)", sizes["news index"] / n,
                    "kept: rollover bounds each generation (`ROLLOVER_SCHEDULE`)", None))
    longest = settings.dedup_window_days + settings.dedup_partition_days
    rows.append(Row("dedup state, all", sizes["dedup state"] / n,
                    f"{settings.dedup_window_days} to {longest} days (`DEDUP_WINDOW_DAYS`, "
                    "`DEDUP_PARTITION_DAYS`)", window))
    for kind, label in KINDS.items():
        rows.append(Row(f"  of which {label}", sizes[f"dedup {kind}"] / n, "the same", window))
    per_run = sizes["prefect db"] / runs
    out = [f"| store | bytes per article | per 100,000 articles | retention default | "
           f"steady state at {per_day:,} articles/day |", "|---|---|---|---|---|"]
    for r in rows:
        steady = (f"{r.bytes_per_article * per_day * r.retained_days / 1e9:,.2f} GB"
                  if r.retained_days is not None
                  else f"+{r.bytes_per_article * per_day * 365 / 1e9:,.0f} GB a year")
        out.append(f"| {r.store} | {r.bytes_per_article:,.0f} | "
                   f"{r.bytes_per_article * 100_000 / 1e6:,.1f} MB | {r.retention} | {steady} |")
    # Prefect grows per flow run (publish, backfill, ...), not per article: the stage workers
    # are long-lived runs that log to their own output, not to Prefect.
    days = settings.prefect_run_retention_days
    out.append(f"| Prefect database | per flow run: {per_run / 1e3:,.1f} kB | "
               f"{runs_per_day} runs a day: {per_run * runs_per_day / 1e6:,.2f} MB a day | "
               f"{days} days (`PREFECT_RUN_RETENTION_DAYS`) | "
               f"{per_run * runs_per_day * days / 1e6:,.1f} MB |")
    out.append("")
    out.append(f"{n:,} articles ({counts['indexed']:,} indexed), {counts['dead letters']} dead "
               f"letters ({per_dead_letter:,.0f} bytes each), {runs} publish runs "
               f"({per_run / 1e3:,.1f} kB each), {counts['state documents']:,} dedup state "
               f"documents ({counts['state documents'] / n:.1f} per article).")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000,
                        help="articles in the sample (default 5,000)")
    parser.add_argument("--runs", type=int, default=10,
                        help="publish flow runs the sample is split into (default 10)")
    parser.add_argument("--dead-letters", type=int, default=200,
                        help="extra copies under an ftp:// URL, dead-lettered by clean")
    parser.add_argument("--dlq-rate", type=float, default=0.01,
                        help="share of articles assumed dead-lettered in the table (0.01)")
    parser.add_argument("--per-day", type=int, default=500_000,
                        help="articles a day for the steady-state column (500,000)")
    parser.add_argument("--runs-per-day", type=int, default=24,
                        help="flow runs a day (publish, backfill...) for Prefect's steady state "
                        "(24: one an hour)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds to wait for every article to be accounted for")
    parser.add_argument("--json", action="store_true", help="also print the raw figures")
    args = parser.parse_args(argv)
    settings = load_settings()
    run = f"growth-{time.strftime('%Y%m%d%H%M%S')}"
    messages = load_articles(settings.shared_dir / "data", run, args.articles)
    bad = [json.dumps({**json.loads(m), "url": json.loads(m)["url"].replace("https:", "ftp:")})
           .encode() for m in messages[:args.dead_letters]]
    sizes, counts = measure(settings, messages, bad, args.runs, args.timeout)
    if args.json:
        print(json.dumps({"sizes": sizes, "counts": counts}, indent=2))
    print("\n".join(table(sizes, counts, settings, args.per_day, args.dlq_rate,
                          args.runs_per_day)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
