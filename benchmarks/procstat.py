"""What the benchmarks read of this machine's processes from /proc: CPU time, peak memory, and
the stack's services found by their command lines."""

from __future__ import annotations

import os
from pathlib import Path

# A mark in each service's command line (the Elasticsearch launcher's has none of these).
SERVICE_MARKS = {"elasticsearch": "org.elasticsearch.bootstrap", "kafka": "kafka.Kafka",
                 "prefect": "prefect server start", "corenlp": "NerServer.java"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (utime and stime in /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
