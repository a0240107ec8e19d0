"""Bring the local stack up, take it down, remove it, and say what runs.

In: the settings and, for :func:`up`/:func:`down`, which services (default: all). Out: services
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
from newsflow.stack import processes
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
    name: str
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


def up(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 180) -> None:
    """Start the services that are not already up, and wait until all of them are healthy.

    A service already answering at its endpoint is left alone, whoever started it. The processes
    are all launched first and waited for together, so Kafka and Elasticsearch boot concurrently.
    Raises :class:`StackError` when one exits or is not healthy within ``timeout`` seconds
    (counted after the downloads, which :func:`ensure_artifacts` does first).
    """
    wanted = check(services)
    for service in wanted:  # before any download or process: refuse a non-loopback endpoint
        bind_host(settings, service)
    ensure_artifacts(settings, wanted)
    paths = Paths.of(settings)
    started = time.monotonic()
    waiting: list[str] = []
    for service in sorted(wanted, key=START_ORDER.index):
        if healthy(settings, service):
            log.info("%s: already up at %s", service, display(settings, service))
            continue
        pid = processes.pid_of(service, paths.run)
        if pid is not None:
            log.info("%s: pid %d is running but not healthy yet: waiting for it", service, pid)
        elif port_in_use(endpoint(settings, service)):
            raise StackError(
                f"{service}: {display(settings, service)} is taken by a process that is not a "
                f"healthy {service} and was not started by newsflow: stop it, or change the port"
            )
        else:
            log.info("%s: starting (log: %s)", service, paths.log(service))
            start(settings, paths, service)
        waiting.append(service)

    deadline = started + timeout
    while waiting:
        for service in list(waiting):
            if healthy(settings, service):
                log.info("%s: up at %s after %.1fs", service, display(settings, service),
                         time.monotonic() - started)
                waiting.remove(service)
            elif processes.pid_of(service, paths.run) is None:
                raise StackError(
                    f"{service} exited while starting; end of {paths.log(service)}:\n"
                    + processes.log_tail(paths.log(service))
                )
        if waiting and time.monotonic() > deadline:
            raise StackError(
                f"not healthy after {timeout:.0f}s: {', '.join(waiting)}; see "
                + ", ".join(str(paths.log(s)) for s in waiting)
                + " (they are left running: `newsflow stack down` stops them)"
            )
        if waiting:
            time.sleep(0.5)


def down(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 60) -> None:
    """Stop the services that newsflow started (data is kept). Others are left alone."""
    paths = Paths.of(settings)
    wanted = check(services)

    def stop(service: str) -> None:
        if processes.stop(service, paths.run, timeout=timeout):
            log.info("%s: stopped", service)
        elif healthy(settings, service):
            log.info("%s: left running: it was not started by newsflow", service)
        else:
            log.info("%s: not running", service)

    # In parallel: each shuts down cleanly on SIGTERM, taking a few seconds.
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        list(pool.map(stop, wanted))


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


def status(settings: Settings) -> list[ServiceStatus]:
    """One line of truth per service: endpoint, pid (if started by newsflow), health, log."""
    paths = Paths.of(settings)
    result = []
    for service in SERVICES:
        pid = processes.pid_of(service, paths.run)
        ok = healthy(settings, service)
        if pid is not None and ok:
            detail = f"up, {processes.group_rss(pid) / 2**20:.0f} MiB RSS"
        elif ok:
            detail = "up, not started by newsflow"
        elif pid is not None:
            detail = "NOT HEALTHY: starting? see its log"
        else:
            detail = "down"
        result.append(ServiceStatus(service, display(settings, service), pid, ok,
                                    paths.log(service), detail))
    return result
