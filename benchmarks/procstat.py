"""What the benchmarks read of this machine's processes from /proc: CPU time, peak memory, and
the stack's services found by their command lines."""

from __future__ import annotations

import os
import re
from pathlib import Path

# A mark in each service's command line (the Elasticsearch launcher's has none of these).
SERVICE_MARKS = {"elasticsearch": "org.elasticsearch.bootstrap", "kafka": "kafka.Kafka",
                 "prefect": "prefect server start", "corenlp": "NerServer.java"}


def _stat_cpu(stat: Path) -> float:
    """User + system CPU seconds in a /proc stat file (utime and stime; the name before them,
    in parentheses, may hold spaces)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat's "cpu" line; busy
    is all but idle and iowait. Two readings give how busy the machine was in between."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks[:8])  # user..steal; guest time is counted in user already
    return total - ticks[3] - ticks[4], total


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's CPU (all cores) in use between two :func:`machine_jiffies`."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def service_pids() -> dict[str, int]:
    """The stack's long-running services on this machine (none found: not on this machine)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for name, mark in SERVICE_MARKS.items():
            if mark in cmdline and name not in found:
                found[name] = int(entry.name)
    return found


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's live threads, summed by thread name less a trailing number.

    A JVM names its native threads after the Java ones, cut to 15 characters: its garbage
    collector ("GC Thread#"), JIT compilers ("C2 CompilerThre") and VM thread stand apart from
    the application's threads, whose names are cut to a common prefix (every Elasticsearch
    thread is "elasticsearch[n"). Threads that have exited are not counted.
    """
    groups: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            cpu = _stat_cpu(task / "stat")
        except OSError:  # the thread ended in between
            continue
        key = re.sub(r"[#\-_ ]*\d+$", "", name) or "?"  # "GC Thread#0", "GC Thread#1": one
        groups[key] = groups.get(key, 0.0) + cpu
    return groups
