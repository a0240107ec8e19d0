"""Bring the local stack up, take it down, remove it, and say what runs.

In: the settings, the number of hosts (default: what the last ``up`` recorded, else one) and,
for :func:`up`/:func:`down`, which services (default: all). Out: every instance of the services
started and healthy, stopped, deleted, or one :class:`ServiceStatus` each. A service already
answering at its endpoint is used as it is, whoever started it; only processes newsflow started
(pid files in ``<stack_dir>/run``) are ever stopped.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsflow.config import Settings
from newsflow.stack import cluster, processes
from newsflow.stack.cluster import Instance
from newsflow.stack.endpoints import port_in_use
from newsflow.stack.errors import StackError
from newsflow.stack.paths import STACK_FILES, Paths
from newsflow.stack.services import (
    SERVICES,
    START_ORDER,
    TABLE,
    bind_host,
    check,
    display,
    endpoint,
    healthy,
    start,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceStatus:
    name: str  # the process: "kafka" on one host, "kafka-2" on a cluster
    service: str  # kafka | elasticsearch | prefect | corenlp
    host: int
    endpoint: str
    pid: int | None  # None: not started by newsflow (or not running)
    healthy: bool
    log: Path  # the service's stdout+stderr
    detail: str


def ensure_artifacts(settings: Settings, services: Sequence[str] = SERVICES) -> None:
    """Fetch and unpack what ``services`` need, and check Java/Maven/Prefect are there.

    Idempotent; when everything is cached it only reads a few files (no Maven run).
    """
    paths = Paths.of(settings)
    wanted = check(services)
    if not STACK_FILES.is_dir():  # an installed wheel has no stack/: it lives in the repository
        raise StackError(f"{STACK_FILES} is missing: run from a checkout (`pip install -e .`)")
    paths.root.mkdir(parents=True, exist_ok=True)
    for service in wanted:
        TABLE[service].fetch(paths)


def _nodes(settings: Settings, nodes: int | None) -> int:
    return cluster.recorded_nodes(settings) if nodes is None else nodes


def _instances(settings: Settings, nodes: int, services: Sequence[str]) -> list[Instance]:
    return cluster.instances(settings, nodes, tuple(check(services)))


def _healthy(inst: Instance) -> bool:
    return healthy(inst.settings, inst.service)


def up(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 180,
       nodes: int | None = None) -> None:
    """Start the services (on every host) that are not already up, and wait until all of them
    are healthy.

    A service already answering at its endpoint is left alone, whoever started it. The processes
    are all launched first and waited for together, so Kafka and Elasticsearch boot concurrently
    (and a cluster's nodes find each other). Raises :class:`StackError` when one exits or is not
    healthy within ``timeout`` seconds (counted after the downloads, which
    :func:`ensure_artifacts` does first), or when the stack runs with another number of hosts.
    """
    nodes = _nodes(settings, nodes)
    running = cluster.recorded_nodes(settings)
    if running != nodes and any(
            processes.pid_of(i.name, Paths.of(settings).run)
            for i in _instances(settings, running, services)):
        raise StackError(f"the local stack runs with {running} host(s), not {nodes}: "
                         "`newsflow stack down` first")
    instances = _instances(settings, nodes, services)
    for inst in instances:  # before any download or process: refuse a non-loopback endpoint
        bind_host(inst.settings, inst.service)
    ensure_artifacts(settings, check(services))
    cluster.record(settings, nodes)
    run_dir = Paths.of(settings).run
    started = time.monotonic()
    waiting: list[Instance] = []
    for inst in sorted(instances, key=lambda i: (START_ORDER.index(i.service), i.host.n)):
        where = display(inst.settings, inst.service)
        if _healthy(inst):
            log.info("%s: already up at %s", inst.name, where)
            continue
        pid = processes.pid_of(inst.name, run_dir)
        if pid is not None:
            log.info("%s: pid %d is running but not healthy yet: waiting for it", inst.name, pid)
        elif port_in_use(endpoint(inst.settings, inst.service)):
            raise StackError(
                f"{inst.name}: {where} is taken by a process that is not a healthy "
                f"{inst.service} and was not started by newsflow: stop it, or change the port"
            )
        else:
            log.info("%s: starting (log: %s)", inst.name, inst.paths.log(inst.name))
            start(inst)
        waiting.append(inst)

    deadline = started + timeout
    while waiting:
        for inst in list(waiting):
            if _healthy(inst):
                log.info("%s: up at %s after %.1fs", inst.name,
                         display(inst.settings, inst.service), time.monotonic() - started)
                waiting.remove(inst)
            elif processes.pid_of(inst.name, run_dir) is None:
                raise StackError(
                    f"{inst.name} exited while starting; end of {inst.paths.log(inst.name)}:\n"
                    + processes.log_tail(inst.paths.log(inst.name))
                )
        if waiting and time.monotonic() > deadline:
            raise StackError(
                f"not healthy after {timeout:.0f}s: {', '.join(i.name for i in waiting)}; see "
                + ", ".join(str(i.paths.log(i.name)) for i in waiting)
                + " (they are left running: `newsflow stack down` stops them)"
            )
        if waiting:
            time.sleep(0.5)


def down(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 60,
         nodes: int | None = None) -> None:
    """Stop the services that newsflow started, on every host (data is kept). Others are left
    alone."""
    instances = _instances(settings, _nodes(settings, nodes), services)
    run_dir = Paths.of(settings).run

    def stop(inst: Instance) -> None:
        if processes.stop(inst.name, run_dir, timeout=timeout):
            log.info("%s: stopped", inst.name)
        elif _healthy(inst):
            log.info("%s: left running: it was not started by newsflow", inst.name)
        else:
            log.info("%s: not running", inst.name)

    # In parallel: each shuts down cleanly on SIGTERM, taking a few seconds.
    with ThreadPoolExecutor(max_workers=len(instances) or 1) as pool:
        list(pool.map(stop, instances))


def remove(settings: Settings) -> list[Path]:
    """Stop the services and delete the stack's folders (downloads, data, logs), the
    Elasticsearch folder under /var/tmp included when it was relocated there."""
    down(settings)
    paths = Paths.of(settings)
    removed = []
    for folder in dict.fromkeys((paths.es_base, paths.root)):  # once each, relocated first
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def status(settings: Settings, nodes: int | None = None) -> list[ServiceStatus]:
    """One line of truth per service and host: endpoint, pid (if started by newsflow), health,
    log."""
    run_dir = Paths.of(settings).run
    result = []
    for inst in _instances(settings, _nodes(settings, nodes), SERVICES):
        pid = processes.pid_of(inst.name, run_dir)
        ok = _healthy(inst)
        if pid is not None and ok:
            detail = f"up, {processes.group_rss(pid) / 2**20:.0f} MiB RSS"
        elif ok:
            detail = "up, not started by newsflow"
        elif pid is not None:
            detail = "NOT HEALTHY: starting? see its log"
        else:
            detail = "down"
        result.append(ServiceStatus(inst.name, inst.service, inst.host.n,
                                    display(inst.settings, inst.service), pid, ok,
                                    inst.paths.log(inst.name), detail))
    return result
