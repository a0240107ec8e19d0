"""Two fixed costs the throughput benchmark cannot separate: the stack's services idling, and
a worker's per-message outcome record (its log line and counters).

    .venv/bin/python benchmarks/overheads.py [--idle SECONDS] [--messages N]

- idle: the CPU each running service (Kafka, Elasticsearch, Prefect, CoreNLP) uses while
  nothing is sent, in percent of one core over ``--idle`` seconds. Run it on a stack that is up
  and otherwise quiet (``newsflow stack up --no-workers``).
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

from benchmarks.procstat import cpu_seconds, service_pids  # noqa: E402
from newsflow import logs  # noqa: E402
from workers import runtime  # noqa: E402


def idle_cpu(seconds: float) -> dict[str, float]:
    pids = service_pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (cpu_seconds(pid) - before[name]) / seconds * 100 for name, pid in pids.items()}


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
    print(f"record: {record_micros(args.messages):.1f} µs per message and stage")


if __name__ == "__main__":
    main()
