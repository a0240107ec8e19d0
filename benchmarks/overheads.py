"""Fixed costs the throughput benchmark cannot separate: the stack's services and the workers
idling, and a worker's per-message outcome record (its log line and counters).

    .venv/bin/python benchmarks/overheads.py [--idle SECONDS] [--messages N]

- idle: the CPU each running service (Kafka, Elasticsearch, Prefect, CoreNLP) uses while
  nothing is sent, in percent of one core over ``--idle`` seconds. Run it on a stack that is up
  and otherwise quiet (``newsflow stack up --no-workers``).
- idle workers: the CPU of one worker per stage, started on topics of their own with nothing
  on them, and of the services meanwhile (their consumers' empty fetches are Kafka's work), over
  ``--idle`` seconds after they have joined their groups. A continuously running pipeline is
  idle most of the time: news arrives far slower than it can be processed.
- record: microseconds for one "emitted" outcome as ``workers.runtime`` records it (the text log
  line with its context, to /dev/null, and the two counters), averaged over ``--messages``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.namespace import namespace  # noqa: E402
from benchmarks.procstat import cpu_seconds, service_pids  # noqa: E402
from newsflow.config import load_settings  # noqa: E402
from workers import runtime  # noqa: E402
from workers.runtime import logs  # noqa: E402


def idle_cpu(seconds: float) -> dict[str, float]:
    pids = service_pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (cpu_seconds(pid) - before[name]) / seconds * 100 for name, pid in pids.items()}


def idle_workers(seconds: float) -> dict[str, float]:
    """Percent of a core each idle worker (and service) used, on a namespace of their own."""
    with namespace(load_settings(), "idle") as ns:
        time.sleep(15)  # models loaded, groups joined
        dead = [name for name, proc in ns.workers if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"worker(s) {dead} exited (run one by hand to see why)")
        pids = {**service_pids(), **{f"worker {ns.stages[n]}": p.pid for n, p in ns.workers}}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(seconds)
        return {name: (cpu_seconds(pid) - before[name]) / seconds * 100
                for name, pid in pids.items()}


def record_micros(messages: int) -> float:
    logs.setup("INFO", "text")
    with open(os.devnull, "w") as sink:
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(sink)
        message = runtime.Message(b"{}", partition=3, offset=123456)
        result = runtime.Result(message, "emitted", "a" * 20)
        counts: dict[str, int] = {}

        def one() -> None:  # what a worker does for each emitted article
            runtime.record_outcome("dedup", "news.clean", result, counts)

        return timeit.timeit(one, number=messages) / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch the services")
    parser.add_argument("--messages", type=int, default=20_000, help="outcomes to record")
    args = parser.parse_args()
    idle = idle_cpu(args.idle)
    if not idle:
        print("idle: no service of the stack runs here (newsflow stack up --no-workers)")
    for name, percent in sorted(idle.items()):
        print(f"idle {name}: {percent:.1f}% of a core")
    if idle:
        for name, percent in idle_workers(args.idle).items():
            print(f"idle workers: {name} {percent:.1f}% of a core")
    print(f"record: {record_micros(args.messages):.1f} µs per message and stage")


if __name__ == "__main__":
    main()
