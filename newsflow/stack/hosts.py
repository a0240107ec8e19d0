"""A whole host of the local cluster lost at once, as a power cut would lose it: for the fault
tests and for trying failover by hand.

In: the settings and a host number. Out: every process of that host (its broker, Elasticsearch
node, CoreNLP, Prefect worker and the flow runs the worker started) killed with SIGKILL in one
sweep, with no chance to close anything cleanly; the pids killed. ``newsflow stack up`` brings
the host back (it starts what is not running).
"""

from __future__ import annotations

import logging
import os
import signal
from contextlib import suppress

from newsflow.config import Settings
from newsflow.stack import cluster, prefect_workers, processes
from newsflow.stack.paths import Paths
from newsflow.stack.services import SERVICES

log = logging.getLogger(__name__)


def process_names(settings: Settings, host: int) -> list[str]:
    """The pid-file names of host ``host``'s processes (its Prefect server only on host 1)."""
    nodes = cluster.recorded_nodes(settings)
    names = [i.name for i in cluster.instances(settings, nodes, SERVICES) if i.host.n == host]
    return [*names, prefect_workers.name(host)]


def kill(settings: Settings, host: int, keep: tuple[str, ...] = ("prefect",)) -> list[int]:
    """SIGKILL every process of ``host`` (except the services in ``keep``: the Prefect server,
    the control plane that every host's worker reports to, stays unless asked)."""
    run_dir = Paths.of(settings).run
    pids: list[int] = []
    for name in process_names(settings, host):
        if name in keep:
            continue
        pid = processes.pid_of(name, run_dir)
        if pid is not None:
            pids.append(pid)
    pids += prefect_workers.flow_run_pids(settings, host)
    for pid in pids:  # groups first, then strays in sessions of their own (flow runs)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log.warning("host %d: killed %d processes", host, len(pids))
    return pids
