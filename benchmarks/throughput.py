"""End-to-end throughput of the pipeline on the local stack, against its limits.

    python benchmarks/throughput.py [--data ../shared/data] [--limit N] [--replicas entities=2]

One run, all on this machine:
0. a warm-up: ``--warmup`` articles (default 10,000) under other URLs through the same pipeline,
   entities on or off as in the first measured pass, not measured: Kafka's, Elasticsearch's and
   CoreNLP's JIT compilers otherwise spend, during the first runs after ``newsflow stack up``,
   as much CPU as Elasticsearch's own work (on a stack started just before, 10,000 take off
   only part of that: use more there). With entities on it takes about a minute;
1. end to end: N articles (default: the 19,043 Reuters NORM records and the 2,225 BBC articles,
   each under a fresh URL) published to a fresh ``<run>.raw``; real worker processes (replicas
   as given) clean, dedup, enrich and index them; the clock runs from the first publish until
   every article is accounted for (indexed + dead-lettered + skipped). Lag per stage and the
   indexed count are sampled every second.
2. the processing limit: the same stage functions chained in-process, one process per core,
   no Kafka, no Elasticsearch (dedup state in memory); English NER, by default, is the stack's
   CoreNLP server, as for the workers (its CPU is in the machine's two cores all the same).
   Measured just before and just after step 1, and the two averaged: this machine's speed
   drifts by up to a sixth within minutes, and a limit measured once, minutes away from the
   run it is compared with, moved the ratio by as much (``--limit-runs 1``: after only);
3. the indexing limit: the final documents bulk-indexed straight into Elasticsearch;
4. a naive baseline: one process, one article at a time, one index request per article
   (dedup state in Elasticsearch, as in the workers).
Then the same with entity extraction off (``--entities on|off`` runs only one of the two).

Writes ``benchmarks/out/<run>/results.json``, ``results.md`` (table) and ``throughput.png``
(throughput and lag over time), and prints the ratios docs/performance.md reports.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.namespace import Namespace, namespace  # noqa: E402
from benchmarks.procstat import (  # noqa: E402
    busy_fraction,
    cpu_seconds,
    machine_jiffies,
    peak_rss_mib,
    service_pids,
    thread_cpu,
)
from flows.publish import publish  # noqa: E402
from newsflow.config import Settings, load_settings  # noqa: E402
from workers.io import elastic, kafka_admin  # noqa: E402
from workers.runtime.batch import BatchProcessor, Message  # noqa: E402
from workers.stage import StageContext  # noqa: E402
from workers.topology import STAGES  # noqa: E402

# --- data ----------------------------------------------------------------------------------


def load_articles(data: Path, run: str, limit: int | None) -> list[bytes]:
    """Raw-article messages from the shared corpora, each under a URL unique to this run."""
    out: list[bytes] = []
    with gzip.open(data / "reuters21578" / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("text_type") != "NORM" or not r.get("body"):
                continue
            out.append(json.dumps({
                "url": f"https://bench.newsflow.example/{run}/reuters/{r['newid']}",
                "title": r.get("title"), "text": r["body"], "source": "reuters.example",
                "language": "en"}).encode())
    with open(data / "bbc-news" / "bbc-news.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(json.dumps({
                "url": f"https://bench.newsflow.example/{run}/bbc/{r['id']}",
                "title": r.get("title"), "text": r["body"], "source": "bbc.example",
                "language": "en"}).encode())
    # A fixed shuffle: a --limit sample mixes both corpora, and runs are comparable.
    random.Random(0).shuffle(out)
    return out[:limit] if limit else out


# --- helpers -------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    indexed: int
    lag: dict[str, int]
    committed: dict[str, int]


@dataclass
class EndToEnd:
    articles: int
    seconds: float
    rate: float
    indexed: int
    dead: int
    skipped: int
    stage_rates: dict[str, float]
    peak_rss_mib: dict[str, float]
    cpu_seconds: dict[str, float]  # CPU time each worker and service used during the run
    # Elasticsearch's own accounting per index (documents, state): milliseconds spent indexing,
    # refreshing, merging and serving gets, to see which of them its CPU went to.
    es_millis: dict[str, dict[str, int]] = field(default_factory=dict)
    # The CoreNLP server's peak RSS (since it started; the entities workers' model runs there).
    corenlp_rss_mib: float | None = None
    # Share of the machine's CPU in use during the run: near 1.0, the machine is the limit.
    machine_busy: float | None = None
    # CPU seconds of each JVM service's threads during the run, by thread name: its garbage
    # collector and JIT compilers apart from its own work (see procstat.thread_cpu).
    service_threads: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def run_end_to_end(base: Settings, messages: list[bytes], replicas: dict[str, int],
                   entities: bool, logs: Path) -> EndToEnd:
    with namespace(base, "bench", replicas=replicas, logs=logs,
                   entities_enabled=entities) as ns:
        return _measure(ns, messages, logs)


def _measure(ns: Namespace, messages: list[bytes], logs: Path) -> EndToEnd:
    settings, es, workers = ns.settings, ns.es, ns.workers
    time.sleep(8)  # models loaded, groups joined: measure the pipeline, not start-up
    samples: list[Sample] = []
    services = service_pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in services.items()}
    cpu_before.update({name: cpu_seconds(proc.pid) for name, proc in workers})
    jvms = {name: pid for name, pid in services.items() if name != "prefect"}
    threads_before = {name: thread_cpu(pid) for name, pid in jvms.items()}
    # This process publishes (standing in for the crawlers), then polls: both cost CPU too.
    publish_cpu = cpu_seconds(os.getpid())
    offsets = kafka_admin.Offsets(settings)
    try:
        started = time.monotonic()
        jiffies = machine_jiffies()
        publish(settings, messages)
        cpu_before["monitor"] = cpu_seconds(os.getpid())
        publish_cpu = cpu_before["monitor"] - publish_cpu
        total = len(messages)
        next_sample = 0.0
        done = 0
        while True:
            # The lag once a second; the end, in the last tenth, five times a second (a run of
            # 30 s would otherwise be measured up to 3% long). Polling five times a second
            # throughout took CPU from the pipeline it measures.
            time.sleep(0.2 if done >= 0.9 * total else 1.0)
            now = time.monotonic() - started
            indexed = elastic.count(es, settings)
            side = {kind: sum(offsets.end_offsets(settings.topic(kind)).values())
                    for kind in ("dlq", "skipped")}
            done = indexed + side["dlq"] + side["skipped"]
            finished = done >= total
            if finished or now >= next_sample:
                rows = offsets.lag()
                samples.append(Sample(now, indexed, {r.stage: r.lag for r in rows},
                                      {r.stage: r.committed for r in rows}))
                print(f"\r{now:6.0f}s indexed {indexed}/{total} lag {samples[-1].lag}",
                      end="", flush=True)
                next_sample = now + 1.0
            if finished:
                break
            dead = [name for name, proc in workers if proc.poll() is not None]
            if dead:
                raise RuntimeError(f"worker(s) {dead} exited: see the logs in {logs}")
            if now > 3600:
                raise TimeoutError("not done after an hour")
        seconds = samples[-1].t
        busy = busy_fraction(jiffies, machine_jiffies())
        print()
        rss = {name: peak_rss_mib(proc.pid) for name, proc in workers}
        pids = {**services, **{name: proc.pid for name, proc in workers}, "monitor": os.getpid()}
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu["publisher"] = publish_cpu
        threads = {}
        for name, pid in jvms.items():
            after, before = thread_cpu(pid), threads_before[name]
            threads[name] = {k: round(v - before.get(k, 0.0), 2) for k, v in
                             sorted(after.items(), key=lambda kv: before.get(kv[0], 0.0) - kv[1])}
        es_millis = index_millis(es, {"documents": settings.es_alias,
                                      "dedup state": f"{settings.dedup_index}-*"})
        stage_rates = {}
        for stage in STAGES:
            started = any(s.committed.get(stage, 0) > 0 for s in samples)
            last = max(s.committed[stage] for s in samples)
            finish = next((s.t for s in samples if s.committed[stage] >= last), seconds)
            stage_rates[stage] = last / finish if started and finish else 0.0
        corenlp_rss = peak_rss_mib(services["corenlp"]) if "corenlp" in services else None
        return EndToEnd(total, seconds, total / seconds, indexed, side["dlq"], side["skipped"],
                        stage_rates, rss, cpu, es_millis=es_millis,
                        corenlp_rss_mib=corenlp_rss, machine_busy=busy,
                        service_threads=threads, samples=samples)
    finally:
        offsets.close()


def index_millis(es: Elasticsearch, indices: dict[str, str]) -> dict[str, dict[str, int]]:
    """Time Elasticsearch spent on each index, in ms, by kind of work (its ``_stats``)."""
    found: dict[str, dict[str, int]] = {}
    for label, index in indices.items():
        total = es.indices.stats(index=index)["_all"]["primaries"]
        found[label] = {
            "indexing": total["indexing"]["index_time_in_millis"],
            "refresh": total["refresh"]["total_time_in_millis"],
            "refreshes": total["refresh"]["total"],
            "merges": total["merges"]["total_time_in_millis"],
            "get": total["get"]["time_in_millis"],
            "search": total["search"]["query_time_in_millis"],
        }
    return found


# --- limits --------------------------------------------------------------------------------


_PROCESSORS: list[BatchProcessor] = []
_BATCH = 200


def _init(settings_data: dict[str, Any]) -> None:
    """Per pool process: build every stage once (models loaded, dedup state in memory)."""
    settings = Settings(**settings_data)
    global _BATCH
    _BATCH = settings.batch_size
    for spec in STAGES.values():
        stage = spec.build(settings, StageContext(offline=True))
        _PROCESSORS.append(BatchProcessor(spec, stage, settings.max_message_bytes))
    gc.collect()
    gc.freeze()  # as the workers do once set up (workers/runtime/worker.py make_worker)


def _chain(lines: list[bytes]) -> tuple[list[bytes], dict[str, float]]:
    """Every stage in order, batch by batch, in this process, over one share of the articles;
    with the CPU seconds this process used for each stage (its output's encoding included)."""
    cpu = dict.fromkeys(STAGES, 0.0)
    out: list[bytes] = []
    for i in range(0, len(lines), _BATCH):
        batch = lines[i:i + _BATCH]
        for name, processor in zip(STAGES, _PROCESSORS, strict=True):
            started = time.process_time()
            results = processor.run([Message(v) for v in batch])
            batch = [r.output.model_dump_json(exclude_none=True).encode()
                     for r in results if r.kind == "emitted" and r.output is not None]
            cpu[name] += time.process_time() - started
        out += batch
    return out, cpu


@dataclass
class Limit:
    rate: float  # articles per second
    busy: float  # share of the machine's CPU in use meanwhile
    # CPU seconds: each stage in the chain (all processes summed) and each service meanwhile;
    # the same accounting as the end-to-end run's, to set the two side by side.
    cpu_seconds: dict[str, float]
    docs: list[bytes]  # the final documents


def processing_limit(settings: Settings, messages: list[bytes], processes: int) -> Limit:
    shares = [messages[i::processes] for i in range(processes)]
    with mp.get_context("spawn").Pool(processes, _init, (settings.model_dump(),)) as pool:
        pool.map(_chain, [[m] for m in messages[:processes]], chunksize=1)  # wait for set-up
        services = service_pids()
        cpu_before = {name: cpu_seconds(pid) for name, pid in services.items()}
        jiffies = machine_jiffies()
        started = time.perf_counter()
        parts = pool.map(_chain, shares, chunksize=1)
        seconds = time.perf_counter() - started
        busy = busy_fraction(jiffies, machine_jiffies())
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in services.items()}
    for stage in STAGES:
        cpu[f"stage {stage}"] = sum(part_cpu[stage] for _, part_cpu in parts)
    docs = [d for part, _ in parts for d in part]
    return Limit(len(messages) / seconds, busy, cpu, docs)


def indexing_limit(es: Elasticsearch, settings: Settings, docs: list[bytes]) -> float:
    index = f"bench-bulk-{uuid.uuid4().hex[:8]}"
    _, body = elastic.index_definition()
    es.indices.create(index=index, settings=body["settings"], mappings=body["mappings"])
    try:
        pairs = [(json.loads(d)["id"], d) for d in docs]
        started = time.perf_counter()
        for i in range(0, len(pairs), 1000):
            failures = elastic.bulk_index(es, index, pairs[i:i + 1000])
            assert not failures, failures[:3]
        es.indices.refresh(index=index)
        seconds = time.perf_counter() - started
        assert es.count(index=index)["count"] == len({p[0] for p in pairs})
        return len(pairs) / seconds
    finally:
        es.indices.delete(index=index)


def naive_baseline(es: Elasticsearch, settings: Settings, messages: list[bytes]) -> float:
    """One process, one article at a time through every stage, one index request each.

    Dedup keeps its state in Elasticsearch as the workers do (a throwaway state index), so
    the baseline pays for the same work, only unbatched."""
    tag = uuid.uuid4().hex[:8]
    index = f"bench-naive-{tag}"
    settings = settings.model_copy(update={"es_alias": index})  # -> its own dedup state index
    _, body = elastic.index_definition()
    es.indices.create(index=index, settings=body["settings"], mappings=body["mappings"])
    processors = []
    for spec in STAGES.values():
        stage = spec.build(settings, StageContext(offline=False, es=es))
        processors.append(BatchProcessor(spec, stage, settings.max_message_bytes))
    try:
        started = time.perf_counter()
        for value in messages:
            for processor in processors:
                [result] = processor.run([Message(value)])
                if result.kind != "emitted" or result.output is None:
                    break
                value = result.output.model_dump_json(exclude_none=True).encode()
            else:
                doc = json.loads(value)
                es.index(index=index, id=doc["id"], document=doc)
        seconds = time.perf_counter() - started
        return len(messages) / seconds
    finally:
        elastic.drop_index(es, settings)  # the dedup state's partitions too
        es.indices.delete(index=index, ignore_unavailable=True)


# --- report --------------------------------------------------------------------------------


SERVICES = ("kafka", "elasticsearch", "prefect")
BENCHMARK = ("monitor", "publisher")


def cpu_against_limit(e2e: dict[str, float], limits: list[dict[str, float]],
                      articles: int) -> dict[str, tuple[float, float]]:
    """CPU ms per article, end to end against the limit runs' mean, in the groups the ratio is
    made of. With both runs keeping the machine busy, end to end / limit is about the limit's
    total over the pipeline's, so the groups say where a ratio was won or lost: the model
    server (in both), the workers against their bare stage functions, the services (almost
    nothing in the limit) and the benchmark's own publishing and polling (none in the limit).
    """
    def group(key: str) -> str | None:
        if key == "corenlp":
            return "CoreNLP"
        if key in SERVICES:
            return "services"
        if key in BENCHMARK:
            return "benchmark"
        if key.startswith("stage ") or key.rsplit("-", 1)[0] in STAGES:
            return "workers"
        return None

    def totals(cpu: dict[str, float]) -> dict[str, float]:
        out = {name: 0.0 for name in ("CoreNLP", "workers", "services", "benchmark")}
        for key, seconds in cpu.items():
            if (name := group(key)) is not None:
                out[name] += seconds * 1000 / articles
        return out

    mine = totals(e2e)
    theirs = [totals(cpu) for cpu in limits] or [dict.fromkeys(mine, 0.0)]
    mean = {k: sum(t[k] for t in theirs) / len(theirs) for k in mine}
    result = {k: (mine[k], mean[k]) for k in mine if mine[k] or mean[k]}
    result["total"] = (sum(mine.values()), sum(mean.values()))
    return result


def chart(path: Path, runs: dict[str, EndToEnd]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=False)
    for label, e2e in runs.items():
        ts = [s.t for s in e2e.samples]
        top.plot(ts, [s.indexed for s in e2e.samples], label=f"indexed ({label})")
        for stage in STAGES:
            bottom.plot(ts, [s.lag.get(stage, 0) for s in e2e.samples],
                        label=f"{stage} lag ({label})")
    top.set_ylabel("documents indexed")
    top.legend()
    bottom.set_ylabel("consumer lag (messages)")
    bottom.set_xlabel("seconds since first publish")
    bottom.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _details(result: dict[str, Any]) -> list[str]:
    """One run's measurements beyond the table; parts an older results.json lacks are left out."""
    r = result["end_to_end"]
    n = r["articles"]

    def per_article(values: dict[str, float], scale: float = 1000) -> str:
        return ", ".join(f"{k} {v * scale / n:.2f}" for k, v in values.items())

    parts = ["stage rates /s " + ", ".join(f"{k} {v:.1f}" for k, v in r["stage_rates"].items()),
             "peak RSS MiB " + ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mib"].items())
             + (f", CoreNLP server {r['corenlp_rss_mib']:.0f}" if r.get("corenlp_rss_mib")
                else ""),
             "CPU ms per article " + per_article(r["cpu_seconds"])]
    if "es_millis" in r:
        parts.append("Elasticsearch ms per article " + "; ".join(
            f"{index}: {per_article({k: v for k, v in t.items() if k != 'refreshes'}, 1)} "
            f"({t['refreshes']} refreshes)" for index, t in r["es_millis"].items()))
    if "service_threads" in r:
        parts.append("JVM threads, CPU ms per article: " + "; ".join(
            f"{service} {per_article(dict(list(t.items())[:6]))}"
            for service, t in r["service_threads"].items()))
    if "machine_busy" in r:
        parts.append(f"machine busy: end to end {r['machine_busy']:.0%}, processing limit " +
                     " / ".join(f"{b:.0%}" for b in result.get("processing_limit_machine_busy",
                                                              [])))
    if limits := result.get("processing_limit_cpu_seconds"):
        parts.append("processing limit, CPU ms per article " + " / ".join(
            per_article(cpu) for cpu in limits))
        # (computed here for a results.json written before the comparison was added to it)
        against = result.get("cpu_ms_per_article_vs_limit") or cpu_against_limit(
            r["cpu_seconds"], limits, n)
        parts.append("CPU ms per article, end to end against the limit: " + ", ".join(
            f"{k} {mine:.2f} vs {theirs:.2f}" for k, (mine, theirs) in against.items()))
    return parts


def report(results: dict[str, Any]) -> list[str]:
    """The markdown of results.md, from what results.json holds."""
    labels = [label for label in ("entities on", "entities off") if label in results]
    lines = ["| run | end to end /s | processing limit /s (runs) | indexing limit /s | naive /s | "
             "e2e ÷ slower limit | e2e ÷ naive | max worker RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for label in labels:
        r = results[label]
        rss = max(r["end_to_end"]["peak_rss_mib"].values())
        runs_ = " / ".join(f"{x:.1f}" for x in r["processing_limit_runs"])
        lines.append(f"| {label} | {r['end_to_end']['rate']:.1f} | {r['processing_limit']:.1f} "
                     f"({runs_}) "
                     f"| {r['indexing_limit']:.1f} | {r['naive_baseline']:.1f} | "
                     f"{r['ratio_to_slower_limit']:.2f} | {r['ratio_to_naive']:.1f} | {rss:.0f} |")
    for label in labels:
        lines.append(f"\n{label}: " + "; ".join(_details(results[label])))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="folder holding reuters21578/ and bbc-news/ (default ../shared/data)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N articles")
    parser.add_argument("--replicas", nargs="*", default=[], metavar="STAGE=N",
                        help="worker processes per stage (default 1 each)")
    parser.add_argument("--naive", type=int, default=1000, help="articles for the naive baseline")
    parser.add_argument("--entities", choices=["both", "on", "off"], default="both",
                        help="runs with entity extraction on, off, or both (default)")
    parser.add_argument("--limit-runs", type=int, choices=[1, 2], default=2,
                        help="measure the processing limit before and after the end-to-end "
                        "run and average the two (2, default), or only after it (1)")
    parser.add_argument("--warmup", type=int, default=10000, metavar="N",
                        help="first run N articles (under other URLs) through the pipeline, "
                        "entities on or off as in the first measured pass, unmeasured, so the "
                        "services' JIT has compiled their hot code (default 10000; 0: none, as "
                        "in the runs before 2026-11-30's third session; until its sixth, the "
                        "warm-up always ran with entities off)")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="run nothing: print the tables of an earlier run's "
                        "DIR/results.json (benchmarks/out/<run>) as this version writes them")
    args = parser.parse_args()
    if args.report:
        saved = args.report / "results.json"
        if not saved.is_file():
            parser.error(f"--report: no results.json in {args.report} (a benchmarks/out/<run> "
                         "folder holds one)")
        print("\n".join(report(json.loads(saved.read_text()))))
        return

    run = time.strftime("%Y%m%d-%H%M%S")
    out = REPO / "benchmarks" / "out" / run
    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    es = elastic.client(settings)
    replicas = {k: int(v) for k, v in (r.split("=") for r in args.replicas)}
    messages = load_articles(args.data, run, args.limit)
    cores = os.cpu_count() or 1
    print(f"{len(messages)} articles, replicas {replicas or 'one per stage'}, {cores} cores")

    results: dict[str, Any] = {"articles": len(messages), "replicas": replicas, "cores": cores}
    runs: dict[str, EndToEnd] = {}
    passes = {"both": [True, False], "on": [True], "off": [False]}[args.entities]
    if args.warmup:
        # Kafka and Elasticsearch compile their hot code as they go: on a stack started minutes
        # before, their JIT compilers took as much CPU as Elasticsearch's own work (the
        # "C2 CompilerThre" rows of results.md). A pipeline that runs continuously pays that
        # once, so the measured runs come after an unmeasured pass over other URLs. With the
        # entities of the first pass: a warm-up without them left Elasticsearch compiling the
        # entity fields' indexing (0.33 ms of C2 per article) and CoreNLP its model in the
        # measured run.
        entities = passes[0]
        warm = load_articles(args.data, f"{run}-warmup", args.warmup)
        print(f"-- warm-up: end to end, entities {'on' if entities else 'off'}, {len(warm)} "
              "articles (not measured)")
        w = run_end_to_end(settings.model_copy(update={"entities_enabled": entities}), warm,
                           replicas, entities, out)
        results["warmup"] = {"articles": w.articles, "rate": w.rate, "entities": entities,
                             "service_threads": w.service_threads}
    for entities in passes:
        label = "entities on" if entities else "entities off"
        s = settings.model_copy(update={"entities_enabled": entities})
        limits = []
        if args.limit_runs == 2:
            print(f"-- {label}: processing limit, before ({cores} processes)")
            limits.append(processing_limit(s, messages, cores))
        print(f"-- {label}: end to end")
        e2e = run_end_to_end(s, messages, replicas, entities, out)
        runs[label] = e2e
        print(f"-- {label}: processing limit, after ({cores} processes)")
        limits.append(processing_limit(s, messages, cores))
        docs = limits[-1].docs
        proc_rates = [lim.rate for lim in limits]
        proc_rate = sum(proc_rates) / len(proc_rates)
        print(f"-- {label}: indexing limit")
        index_rate = indexing_limit(es, s, docs)
        print(f"-- {label}: naive baseline ({args.naive} articles)")
        naive_rate = naive_baseline(es, s, messages[: args.naive])
        slower = min(proc_rate, index_rate)
        results[label] = {
            "end_to_end": {k: v for k, v in asdict(e2e).items() if k != "samples"},
            "processing_limit": proc_rate, "processing_limit_runs": proc_rates,
            "processing_limit_machine_busy": [lim.busy for lim in limits],
            "processing_limit_cpu_seconds": [lim.cpu_seconds for lim in limits],
            "indexing_limit": index_rate,
            "naive_baseline": naive_rate,
            "ratio_to_slower_limit": e2e.rate / slower,
            "ratio_to_naive": e2e.rate / naive_rate,
            "cpu_ms_per_article_vs_limit": cpu_against_limit(
                e2e.cpu_seconds, [lim.cpu_seconds for lim in limits], e2e.articles),
        }
        print(json.dumps(results[label], indent=2))

    (out / "results.json").write_text(json.dumps(
        {**results, "samples": {k: [asdict(s) for s in v.samples] for k, v in runs.items()}},
        indent=2))
    lines = report(results)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    chart(out / "throughput.png", runs)
    print("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
