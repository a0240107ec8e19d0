"""Keep each stage at its desired number of runs, spread over the online hosts.

In: the settings, the desired replicas per stage (a Prefect Variable, ``replicas_variable``),
the pipeline's active runs and the online hosts (``flows.pool``). Out: runs of lost hosts
marked Crashed, new runs placed on the hosts' queues ``host-<n>``, surplus runs cancelled, and
one supervisor run per online host. :func:`plan` decides (pure, unit-tested); :func:`act`
carries it out; :func:`ensure_replicas` (``newsflow deploy``) and the supervisor flow
(``flows/supervisor.py``) call them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.states import Cancelled, Cancelling, Crashed
from prefect.variables import Variable

from flows.deploy import SUPERVISOR, deployment_ids, replicas_variable
from flows.pool import (
    NoWorkerOnlineError,
    ensure_pool,
    host_of_queue,
    online_hosts,
    queue_name,
    runs_of,
)
from flows.settings import FlowSettings
from workers.topology import STAGES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """What the planner needs of a flow run: which deployment, where, in what state."""

    id: UUID | str
    what: str  # a stage, or SUPERVISOR
    host: int | None  # from its queue host-<n>; None = the default queue (unplaced)
    state: StateType


@dataclass
class Plan:
    crash: list[Run] = field(default_factory=list)  # on a host that is gone
    start: list[tuple[str, int]] = field(default_factory=list)  # (what, host)
    cancel: list[Run] = field(default_factory=list)  # surplus

    def __bool__(self) -> bool:
        return bool(self.crash or self.start or self.cancel)


def place(counts: Counter[int], online: list[int], load: Counter[int] | None = None) -> int:
    """The host for the next replica of a stage: fewest runs of it, then fewest stage runs of
    any stage (``load``: one replica of each of four stages spreads over three hosts), then
    the lowest number."""
    load = load or Counter()
    return min(online, key=lambda host: (counts[host], load[host], host))


def _surplus(runs: list[Run], count: int) -> list[Run]:
    """``count`` runs to cancel: unplaced first, then from the most loaded host, not yet
    running before running."""
    chosen: list[Run] = []
    left = list(runs)
    for _ in range(count):
        load = Counter(r.host for r in left)
        victim = max(left, key=lambda r: (r.host is None, load[r.host],
                                          r.state != StateType.RUNNING, r.host or 0))
        left.remove(victim)
        chosen.append(victim)
    return chosen


def plan(runs: Iterable[Run], desired: dict[str, int], online: list[int]) -> Plan:
    """What to do so every stage in ``desired`` has that many live runs and every online
    host one supervisor run. A run on a host not ``online`` is lost: crash it, replace it."""
    if not online:
        raise NoWorkerOnlineError("no Prefect worker of the pool is online: start one "
                                  "(`newsflow deploy` does on one host)")
    up = set(online)
    out = Plan()
    alive: defaultdict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.host is not None and run.host not in up:
            out.crash.append(run)
        else:
            alive[run.what].append(run)
    load = Counter(r.host for what in desired for r in alive[what] if r.host is not None)
    for what, want in desired.items():
        counts = Counter(r.host for r in alive[what] if r.host is not None)
        for _ in range(want - len(alive[what])):
            host = place(counts, online, load)
            counts[host] += 1
            load[host] += 1
            out.start.append((what, host))
        out.cancel += _surplus(alive[what], len(alive[what]) - want)
    by_host: defaultdict[int | None, list[Run]] = defaultdict(list)
    for run in alive[SUPERVISOR]:
        by_host[run.host].append(run)
    for host in online:
        if not by_host[host]:
            out.start.append((SUPERVISOR, host))
    for where, runs_there in by_host.items():
        out.cancel += runs_there[1:] if where is not None else runs_there
    return out


def actor(runs: Iterable[Run], online: list[int]) -> int | None:
    """The host whose supervisor acts: the lowest online host with a RUNNING supervisor."""
    hosts = [r.host for r in runs if r.what == SUPERVISOR and r.state == StateType.RUNNING
             and r.host is not None and r.host in online]
    return min(hosts) if hosts else None


def desired_replicas(settings: FlowSettings) -> dict[str, int]:
    """Stage -> desired runs, as stored on the server (empty before the first deploy)."""
    value: Any = Variable.get(replicas_variable(settings), default={})
    return {str(k): int(v) for k, v in dict(value).items()}


def observe(settings: FlowSettings) -> tuple[list[Run], list[int], dict[str, UUID]]:
    """The pipeline's active stage and supervisor runs, the online hosts, deployment ids."""
    ids = deployment_ids(settings)
    what_of = {ids[w]: w for w in [*STAGES, SUPERVISOR] if w in ids}
    runs = [Run(r.id, what_of[r.deployment_id], host_of_queue(r.work_queue_name),
                r.state.type if r.state else StateType.SCHEDULED)
            for r in runs_of(what_of) if r.deployment_id in what_of]
    return runs, online_hosts(settings), ids


def act(settings: FlowSettings, todo: Plan, ids: dict[str, UUID], online: list[int],
        logger: Any = log) -> list[str]:
    """Carry out ``todo``; one line per action to ``logger`` (also returned)."""
    lines = []
    if todo.start:
        ensure_pool(settings, hosts={host for _, host in todo.start})
    with get_client(sync_client=True) as client:
        for run in todo.crash:
            client.set_flow_run_state(run.id, Crashed(
                message=f"host {run.host} lost: its Prefect worker sent no heartbeat; "
                f"replaced on a surviving host (online: {online})"), force=True)
            lines.append(f"action=crash run={run.id} what={run.what} host={run.host} "
                         "reason=host-offline")
        for run in todo.cancel:
            state: State[Any] = Cancelled() if run.state == StateType.SCHEDULED else Cancelling()
            client.set_flow_run_state(run.id, state, force=True)
            lines.append(f"action=cancel run={run.id} what={run.what} host={run.host} "
                         "reason=surplus")
        for what, host in todo.start:
            new = client.create_flow_run_from_deployment(
                ids[what], work_queue_name=queue_name(host),
                parameters={"host": host} if what == SUPERVISOR else None,
                tags=["newsflow", f"host-{host}"])
            lines.append(f"action=start run={new.id} what={what} host={host}")
    for line in lines:
        logger.warning("%s pipeline=%s", line, settings.topic_prefix)
    return lines


def supervise_once(settings: FlowSettings) -> list[str]:
    """One round: lost hosts' runs crashed, stages at their replicas, a supervisor per host."""
    runs, online, ids = observe(settings)
    desired = {s: n for s, n in desired_replicas(settings).items() if s in ids}
    if SUPERVISOR not in ids:
        raise LookupError("the supervisor deployment is missing: run `newsflow deploy`")
    return act(settings, plan(runs, desired, online), ids, online)


def ensure_replicas(settings: FlowSettings, replicas: int,
                    stages: Iterable[str] | None = None) -> dict[str, dict[int, int]]:
    """Store ``replicas`` as the desired count of ``stages`` (default: all), then start or
    cancel runs so each has that many, on the online hosts; stage -> host -> runs placed.

    Raises :class:`NoWorkerOnlineError` when no worker of the pool is online.
    """
    desired = desired_replicas(settings)
    desired.update({stage: replicas for stage in stages or STAGES})
    Variable.set(replicas_variable(settings), dict(desired), overwrite=True)
    supervise_once(settings)
    return placement(settings)


def placement(settings: FlowSettings) -> dict[str, dict[int, int]]:
    """Stage -> host -> active runs there (the default queue's runs under host 0)."""
    runs, _, _ = observe(settings)
    out: dict[str, dict[int, int]] = {stage: {} for stage in STAGES}
    for run in runs:
        if run.what in out:
            host = run.host or 0
            out[run.what][host] = out[run.what].get(host, 0) + 1
    return out


def running_placement(settings: FlowSettings) -> dict[str, dict[int, int]]:
    """Like :func:`placement`, RUNNING runs only: what actually consumes."""
    runs, _, _ = observe(settings)
    out: dict[str, dict[int, int]] = {stage: {} for stage in STAGES}
    for run in runs:
        if run.what in out and run.state == StateType.RUNNING:
            out[run.what][run.host or 0] = out[run.what].get(run.host or 0, 0) + 1
    return out
