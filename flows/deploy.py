"""Every newsflow deployment, served by one long-running process; replicas kept per stage.

``python -m flows.deploy`` (started in the background by ``newsflow deploy``) registers the
deployments below on the Prefect server and serves them: each flow run is a subprocess of this
process, its logs go to the Prefect server (the UI shows deployments, runs and logs).

- ``stage-worker/<prefix>-<stage>``: one per stage; each run is one replica of the stage
  (a member of its consumer group). :func:`ensure_replicas` starts or cancels runs until each
  stage has the number asked for. A crashed or failed run is replaced (``flows/worker.py``).
- ``backfill/<prefix>-backfill``, ``reindex/<prefix>-reindex``, ``reenrich/<prefix>-reenrich``,
  ``replay-dlq/<prefix>-replay-dlq``, ``publish/<prefix>-publish``: operator flows, run on
  demand from the UI or ``prefect deployment run``; ``rollover/<prefix>-rollover`` also runs
  on its schedule (``rollover_schedule``, daily).

Served rather than a work pool + worker: one process, nothing else to install or keep in step,
and the same flow code on a laptop and a cluster node. Deployment names carry the topic prefix,
so separate pipelines (tests) on one Prefect server never touch each other's deployments.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any
from uuid import UUID

from prefect import Flow, serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelling

from flows.backfill import backfill_flow
from flows.publish import publish_flow
from flows.reenrich import reenrich_flow
from flows.reindex import reindex_flow
from flows.replay_dlq import replay_dlq_flow
from flows.rollover import rollover_flow
from flows.settings import FlowSettings, load_settings
from flows.worker import stage_worker
from workers.runtime import logs
from workers.topology import STAGES

log = logging.getLogger(__name__)

ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]
OPS: dict[str, Flow[..., Any]] = {
    "backfill": backfill_flow, "reindex": reindex_flow, "reenrich": reenrich_flow,
    "replay-dlq": replay_dlq_flow, "publish": publish_flow, "rollover": rollover_flow,
}


def deployment_name(settings: FlowSettings, what: str) -> str:
    return f"{settings.topic_prefix}-{what}"


def deployments(settings: FlowSettings) -> list[RunnerDeployment]:
    # to_deployment is sync here (no running event loop); its type says "or a coroutine".
    out: list[Any] = [
        stage_worker.to_deployment(
            name=deployment_name(settings, stage), parameters={"stage": stage},
            tags=["newsflow", "stage", stage],
            description=f"the {stage} stage's worker loop; one run = one replica")
        for stage in STAGES
    ]
    out += [fl.to_deployment(name=deployment_name(settings, what), tags=["newsflow", "ops"],
                             cron=settings.rollover_schedule if what == "rollover" else None)
            for what, fl in OPS.items()]
    return out


def full_names(settings: FlowSettings) -> dict[str, str]:
    """what (stage or operator flow) -> ``<flow>/<deployment>`` as Prefect names it."""
    names = {stage: f"stage-worker/{deployment_name(settings, stage)}" for stage in STAGES}
    names.update({what: f"{fl.name}/{deployment_name(settings, what)}"
                  for what, fl in OPS.items()})
    return names


def wait_for_deployments(settings: FlowSettings, timeout: float = 120) -> dict[str, UUID]:
    """Wait until the serving process has registered every deployment; their ids."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            found: dict[str, UUID] = {}
            for what, name in full_names(settings).items():
                try:
                    found[what] = client.read_deployment_by_name(name).id
                except ObjectNotFound:
                    break
            else:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployments not registered after {timeout}s: is the "
                                   "serving process running? (see its log)")
            time.sleep(1)


def active_runs(deployment_id: UUID) -> list[UUID]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE))))
    return [r.id for r in runs]


def ensure_replicas(settings: FlowSettings, replicas: int,
                    stages: list[str] | None = None) -> dict[str, int]:
    """Start (or cancel) stage-worker runs until each stage has ``replicas`` active runs."""
    ids = wait_for_deployments(settings)
    result = {}
    with get_client(sync_client=True) as client:
        for stage in stages or list(STAGES):
            active = active_runs(ids[stage])
            for _ in range(replicas - len(active)):
                client.create_flow_run_from_deployment(ids[stage])
            for run_id in active[replicas:]:  # scaling down: the runner stops these runs
                client.set_flow_run_state(run_id, Cancelling(), force=True)
            result[stage] = replicas
    return result


def delete_deployments(settings: FlowSettings) -> None:
    """Remove this pipeline's deployments and their runs not yet finished from the server."""
    with get_client(sync_client=True) as client:
        for name in full_names(settings).values():
            with contextlib.suppress(ObjectNotFound):
                deployment_id = client.read_deployment_by_name(name).id
                for run_id in active_runs(deployment_id):
                    client.delete_flow_run(run_id)
                client.delete_deployment(deployment_id)


def main() -> None:
    settings = load_settings()
    logs.setup(settings.log_level, settings.log_format)
    # No limit: every replica of every stage runs at once (Prefect's default caps a runner).
    serve(*deployments(settings), limit=None, pause_on_shutdown=False)


if __name__ == "__main__":
    main()
