"""The Prefect work pool the pipeline runs from: its hosts, their workers and their runs.

Host ``n`` runs one Prefect worker, named ``<pool>-host-<n>``, that polls the work queues
``host-<n>`` (the stage replicas and supervisor placed on that host) and ``default`` (operator
flows, any host). A host is online while its worker's last heartbeat is younger than three
heartbeat periods (``worker_heartbeat_seconds``); that is computed here from the heartbeat
times the server keeps, not left to Prefect's own worker status, so that the supervisor
(``flows/supervisor.py``) decides on a clock it knows.

In: the settings (pool name, type, heartbeat period). Out: the command that starts a host's
worker (:func:`worker_command`), the online hosts, the running stage replicas by host.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterWorkQueueName,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.states import Crashed

from flows.settings import FlowSettings

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]
# A host is offline after this many heartbeat periods without one.
MISSED_HEARTBEATS = 3
# Set in a host worker's environment; its flow runs inherit it. `newsflow stack down` finds
# the worker and every flow-run process it started by this variable.
HOST_MARKER = "NEWSFLOW_PREFECT_WORKER"


class NoWorkerOnlineError(RuntimeError):
    """No Prefect worker of the pool has sent a heartbeat recently: nowhere to run."""


def queue_name(host: int) -> str:
    return f"host-{host}"


def worker_name(settings: FlowSettings, host: int) -> str:
    return f"{settings.work_pool}-host-{host}"


def host_of_queue(queue: str | None) -> int | None:
    """``host-3`` -> 3; the default queue (or none) -> None."""
    match = re.fullmatch(r"host-(\d+)", queue or "")
    return int(match.group(1)) if match else None


def host_of_worker(pool: str, name: str) -> int | None:
    """``<pool>-host-3`` -> 3; a worker of another naming -> None (ignored)."""
    match = re.fullmatch(re.escape(pool) + r"-host-(\d+)", name)
    return int(match.group(1)) if match else None


def worker_command(settings: FlowSettings, host: int) -> tuple[list[str], dict[str, str]]:
    """The argv that starts host ``host``'s Prefect worker, and the environment it adds.

    The caller supplies the rest of the environment: the pipeline's settings and the host's
    own endpoints (its CoreNLP, every broker, every Elasticsearch node), which the worker's
    flow runs inherit (a process worker gives a run ``os.environ`` + the deployment's
    ``env``; the deployments carry no host-local value, see ``flows.deploy``). Run it with
    the repository as working directory.
    """
    name = worker_name(settings, host)
    argv = [str(Path(sys.executable).with_name("prefect")), "worker", "start",
            "--pool", settings.work_pool, "--type", settings.work_pool_type,
            "--work-queue", queue_name(host), "--work-queue", DEFAULT_QUEUE,
            "--name", name,
            "--install-policy", "never"]  # the venv has what it needs; never pip install
    env = {
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_WORKER_HEARTBEAT_SECONDS": f"{settings.worker_heartbeat_seconds:g}",
        # Poll for runs placed on this host as often as it heart-beats: replacements start fast.
        "PREFECT_WORKER_QUERY_SECONDS": f"{settings.worker_heartbeat_seconds:g}",
        "PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES": "false",  # no `uv run` of the project
        "NEWSFLOW_HOST": str(host),
        HOST_MARKER: name,
    }
    return argv, env


def ensure_pool(settings: FlowSettings, hosts: Iterable[int] = ()) -> None:
    """Create the work pool (type ``work_pool_type``) and the queues of ``hosts`` if missing."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(settings.work_pool)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another host was quicker
                client.create_work_pool(WorkPoolCreate(name=settings.work_pool,
                                                       type=settings.work_pool_type))
                log.info("work_pool=%s type=%s created", settings.work_pool,
                         settings.work_pool_type)
        existing = {q.name for q in client.read_work_queues(work_pool_name=settings.work_pool)}
        for name in [DEFAULT_QUEUE, *(queue_name(h) for h in hosts)]:
            if name not in existing:
                with contextlib.suppress(ObjectAlreadyExists):
                    client.create_work_queue(name=name, work_pool_name=settings.work_pool)


def delete_pool(settings: FlowSettings) -> None:
    """Remove the work pool (and its queues) from the server; tests clean up with it."""
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_work_pool(settings.work_pool)


def online_from_heartbeats(pool: str, heartbeats: dict[str, datetime | None], now: datetime,
                           heartbeat_seconds: float) -> list[int]:
    """Hosts whose worker (``<pool>-host-<n>``) sent a heartbeat within 3 periods, sorted."""
    limit = MISSED_HEARTBEATS * heartbeat_seconds
    hosts = {host for name, beat in heartbeats.items()
             if (host := host_of_worker(pool, name)) is not None
             and beat is not None and (now - beat).total_seconds() <= limit}
    return sorted(hosts)


def online_hosts(settings: FlowSettings) -> list[int]:
    """The hosts whose Prefect worker of the pool is alive now (empty if the pool is missing)."""
    with get_client(sync_client=True) as client:
        try:
            workers = client.read_workers_for_work_pool(settings.work_pool)
        except ObjectNotFound:
            return []
    return online_from_heartbeats(settings.work_pool,
                                  {w.name: w.last_heartbeat_time for w in workers},
                                  datetime.now(UTC), settings.worker_heartbeat_seconds)


def runs_of(deployment_ids: Iterable[UUID], states: Iterable[StateType] = ACTIVE
            ) -> list[FlowRun]:
    """The flow runs of these deployments in these states (all pages)."""
    ids = list(deployment_ids)
    if not ids:
        return []
    found: list[FlowRun] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids)),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(states)))),
                offset=len(found), limit=200)
            found += page
            if len(page) < 200:
                return found


def crash_runs(runs: Iterable[FlowRun], message: str) -> list[FlowRun]:
    """Mark ``runs`` Crashed with ``message`` (their process is gone with its host)."""
    done = []
    with get_client(sync_client=True) as client:
        for run in runs:
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            done.append(run)
    return done


def crash_host_runs(settings: FlowSettings, host: int, why: str) -> int:
    """Mark every active run on host ``host``'s queue of the pool Crashed (any pipeline's):
    its worker was stopped or restarted, so nothing runs them any more. How many."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[settings.work_pool])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE)),
                work_queue_name=FlowRunFilterWorkQueueName(any_=[queue_name(host)])))
    for run in crash_runs(runs, f"host {host}: {why}"):
        log.warning("action=crash run=%s host=%d reason=%s", run.id, host, why)
    return len(runs)


def stage_runs(settings: FlowSettings) -> list[tuple[str, int | None, str]]:
    """``(stage, host, flow_run_id)`` of every RUNNING stage replica of this pipeline."""
    from flows.deploy import deployment_ids  # deploy builds on this module

    ids = deployment_ids(settings)
    stage_of = {dep_id: what for what, dep_id in ids.items()}
    return sorted((stage_of[r.deployment_id], host_of_queue(r.work_queue_name), str(r.id))
                  for r in runs_of(ids.values(), [StateType.RUNNING])
                  if r.deployment_id in stage_of and stage_of[r.deployment_id] != "supervisor")
