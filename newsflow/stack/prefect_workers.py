"""Each host's Prefect worker: the background process that runs the flow runs placed on its host.

In: the settings (on a local cluster: widened to every broker and Elasticsearch node) and a
host. Out: ``prefect-worker-<n>`` started with host n's environment (the settings, its own
CoreNLP), stopped together with the flow runs it started, or its status. What the worker runs
and polls (pool, queues, heartbeat) comes from :func:`flows.pool.worker_command`; the stack only
decides where it lives. Prefect is imported only when a worker is started or stopped: it is slow
to import, and ``stack status`` should not wait for it.
"""

from __future__ import annotations

import logging
import os

from newsflow.config import Settings
from newsflow.stack import cluster, processes
from newsflow.stack.errors import StackError
from newsflow.stack.lifecycle import ServiceStatus
from newsflow.stack.paths import STACK_FILES, Paths
from workers.settings import settings_env

log = logging.getLogger(__name__)

PREFIX = "prefect-worker-"  # + host number: the process name of a host's worker


def name(host: int) -> str:
    return f"{PREFIX}{host}"


def start(settings: Settings, host: int = 1, extra_env: dict[str, str] | None = None) -> int:
    """Start host ``host``'s Prefect worker in the background (log in the stack folder); its
    pid. The settings reach it, and through it the flow runs, as ``NEWSFLOW_*`` (secrets
    included: never through Prefect's database). Runs its queue still shows active are marked
    Crashed first: they belonged to an earlier life of this host's worker, and nothing runs
    them now."""
    from flows import pool

    paths = Paths.of(settings)
    if (pid := processes.pid_of(name(host), paths.run)) is not None:
        if pid not in processes.pids_with_env(pool.HOST_MARKER, pool.worker_name(settings, host)):
            raise StackError(f"{name(host)} (pid {pid}) is the worker of another work pool than "
                             f"{settings.work_pool}: `newsflow workers stop` first")
        return pid
    pool.ensure_pool(settings, hosts=[host])
    pool.crash_host_runs(settings, host, "its Prefect worker was restarted")
    argv, env = pool.worker_command(settings, host)
    pid = processes.start(
        name(host), argv, run_dir=paths.run, log_path=paths.log(name(host)),
        env={**os.environ, **settings_env(settings), **env, **(extra_env or {})},
        cwd=STACK_FILES.parent)
    log.info("%s: Prefect worker of pool %s started (log: %s)", name(host), settings.work_pool,
             paths.log(name(host)))
    return pid


def start_hosts(settings: Settings, nodes: int) -> list[int]:
    """The Prefect worker of every host of a local cluster, each with its own CoreNLP."""
    return [start(settings, h.n, {"NEWSFLOW_CORENLP_URL": h.corenlp_url})
            for h in cluster.hosts(settings, nodes)]


def flow_run_pids(settings: Settings, host: int) -> list[int]:
    """The flow-run processes host ``host``'s worker started. Each runs in a session of its
    own, out of the worker's process group: found by the marker they inherit."""
    from flows import pool

    return processes.pids_with_env(pool.HOST_MARKER, pool.worker_name(settings, host))


def stop(settings: Settings, host: int) -> bool:
    """Stop host ``host``'s Prefect worker and its flow runs: the runs first (SIGTERM: each
    finishes its batch, commits and ends Crashed, "termination signal"), then the worker;
    runs still marked active on the host's queue are then marked Crashed (when the Prefect
    server is down already: nothing to mark). False when it was not running."""
    from flows import pool

    run_dir = Paths.of(settings).run
    worker_pid = processes.pid_of(name(host), run_dir)
    runs = [p for p in flow_run_pids(settings, host) if p != worker_pid]
    processes.kill_pids(runs, timeout=20)
    stopped = processes.stop(name(host), run_dir)
    # A worker that is shutting down still starts the runs it had already picked up (a
    # supervisor elsewhere replaces the runs just stopped): with the worker gone, no more can
    # come, so what carries its marker now is stopped too.
    late = flow_run_pids(settings, host)
    processes.kill_pids(late, timeout=20)
    runs += late
    try:
        pool.crash_host_runs(settings, host, "its Prefect worker was stopped")
    except Exception as exc:  # the Prefect server is down: nothing to mark
        log.info("runs of %s not marked: %s", name(host), exc)
    return stopped or bool(runs)


def running_hosts(settings: Settings) -> list[int]:
    """The hosts whose Prefect worker newsflow started and is alive."""
    return sorted(int(n.removeprefix(PREFIX)) for n in processes.names(Paths.of(settings).run)
                  if n.startswith(PREFIX))


def stop_all(settings: Settings) -> list[str]:
    """Stop every host's Prefect worker and flow runs; the names stopped."""
    return [name(h) for h in running_hosts(settings) if stop(settings, h)]


def status(settings: Settings) -> list[ServiceStatus]:
    """One line per host's Prefect worker that newsflow started and is alive."""
    paths = Paths.of(settings)
    out = []
    for host in running_hosts(settings):
        pid = processes.pid_of(name(host), paths.run)
        detail = f"up, {processes.group_rss(pid) / 2**20:.0f} MiB RSS" if pid else "down"
        out.append(ServiceStatus(name(host), "prefect-worker", host,
                                 f"pool {settings.work_pool}, queue host-{host}", pid,
                                 pid is not None, paths.log(name(host)), detail))
    return out
