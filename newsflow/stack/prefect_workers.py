"""Each host's Prefect worker: the background process that runs the flow runs placed on its host.

In: the settings (widened to the whole cluster) and a host. Out: ``prefect-worker-<n>`` started
with host n's environment (every broker and Elasticsearch node, host n's own CoreNLP), stopped
with the flow runs it started, or its status. What the worker runs and polls (pool, queues)
comes from :func:`flows.pool.worker_command`; the stack only decides where it lives.
"""

from __future__ import annotations

import os
import signal
from contextlib import suppress

from newsflow.config import Settings
from newsflow.stack import cluster, processes
from newsflow.stack.lifecycle import ServiceStatus
from newsflow.stack.paths import STACK_FILES, Paths
from workers.settings import settings_env

PREFIX = "prefect-worker-"


def name(host: int) -> str:
    return f"{PREFIX}{host}"


def host_env(settings: Settings, host: cluster.Host) -> dict[str, str]:
    """Host n's worker environment: the settings as NEWSFLOW_* (secrets included: they reach the
    flow runs through the worker, never through Prefect's database), its own CoreNLP, and what
    the Prefect worker itself needs."""
    from flows import pool  # Prefect is slow to import: only when a worker is started

    local = settings.model_copy(update={"corenlp_url": host.corenlp_url})
    argv_env = pool.worker_command(local, host.n)[1]
    return {**os.environ, **settings_env(local), **argv_env}


def start(settings: Settings, nodes: int) -> list[int]:
    """Start the Prefect worker of every host that has none running; their pids."""
    from flows import pool

    paths = Paths.of(settings)
    started = []
    for host in cluster.hosts(settings, nodes):
        if processes.pid_of(name(host.n), paths.run) is not None:
            continue
        argv, _ = pool.worker_command(settings, host.n)
        started.append(processes.start(
            name(host.n), argv, run_dir=paths.run, log_path=paths.log(name(host.n)),
            env=host_env(settings, host), cwd=STACK_FILES.parent))
    return started


def flow_run_pids(worker_pid: int) -> list[int]:
    """The processes a worker started (flow runs live in sessions of their own)."""
    return processes.descendants(worker_pid)


def stop(settings: Settings, host: int | None = None, timeout: float = 30) -> list[str]:
    """Stop the Prefect worker of ``host`` (default: every host) and the flow runs it started:
    SIGTERM, so each run finishes its batch and commits, then the worker."""
    run_dir = Paths.of(settings).run
    stopped = []
    for proc in processes.names(run_dir):
        if not proc.startswith(PREFIX) or (host is not None and proc != name(host)):
            continue
        pid = processes.pid_of(proc, run_dir)
        if pid is None:
            continue
        for child in flow_run_pids(pid):
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        processes.stop(proc, run_dir, timeout=timeout)
        stopped.append(proc)
    return stopped


def status(settings: Settings) -> list[ServiceStatus]:
    """One line per host's Prefect worker that newsflow started (alive or not)."""
    paths = Paths.of(settings)
    out = []
    for proc in processes.names(paths.run):
        if proc.startswith(PREFIX):
            host = int(proc.removeprefix(PREFIX))
            pid = processes.pid_of(proc, paths.run)
            where = f"pool {settings.work_pool}, queue host-{host}"
            detail = f"up, {processes.group_rss(pid) / 2**20:.0f} MiB RSS" if pid else "down"
            out.append(ServiceStatus(proc, "prefect-worker", host, where, pid, pid is not None,
                                     paths.log(proc), detail))
    return sorted(out, key=lambda s: s.host)
