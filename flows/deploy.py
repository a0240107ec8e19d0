"""Every newsflow deployment, applied to the work pool, with the pipeline's settings in it.

In: the settings. Out: the deployments on the Prefect server, each on the work pool
``work_pool`` (``flows/pool.py``), with its code taken from the repository on the host's disk
(a ``set_working_directory`` pull step: no image, no copy):

- ``stage-worker/<prefix>-<stage>``: one per stage; each run is one replica of the stage (a
  member of its consumer group), placed on a host's queue ``host-<n>`` by
  ``flows.replicas``;
- ``supervisor/<prefix>-supervisor``: one run per online host, keeping the replicas
  (``flows/supervisor.py``);
- ``backfill``, ``reindex``, ``reenrich``, ``replay-dlq``, ``publish``, ``rollover``
  (``<flow>/<prefix>-<what>``): operator flows on the queue ``default`` (any host), on demand;
  rollover also on its schedule (``rollover_schedule``).

Each deployment's ``env`` carries the pipeline's names and knobs (:func:`deployment_env`), but
neither secrets (Prefect would store them in its database) nor what differs per host
(endpoints, folders): a process worker gives its runs its own environment with the
deployment's ``env`` on top, so those come from the host's worker process. Deployment names
carry the topic prefix, so separate pipelines (tests) on one Prefect server never touch each
other's deployments.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.runner.storage import LocalStorage
from prefect.variables import Variable
from pydantic import SecretStr

from flows.backfill import backfill_flow
from flows.pool import DEFAULT_QUEUE, ensure_pool, runs_of
from flows.publish import publish_flow
from flows.reenrich import reenrich_flow
from flows.reindex import reindex_flow
from flows.replay_dlq import replay_dlq_flow
from flows.rollover import rollover_flow
from flows.settings import FlowSettings
from flows.supervisor import supervisor
from flows.worker import stage_worker
from workers.settings import settings_env
from workers.topology import STAGES

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]  # the code every host's runs load
OPS: dict[str, Flow[..., Any]] = {
    "backfill": backfill_flow, "reindex": reindex_flow, "reenrich": reenrich_flow,
    "replay-dlq": replay_dlq_flow, "publish": publish_flow, "rollover": rollover_flow,
}
SUPERVISOR = "supervisor"
# Differ per host or per machine: set by the host's worker process, never by a deployment.
HOST_LOCAL = frozenset({"kafka_bootstrap", "es_url", "corenlp_url", "prefect_api_url",
                        "stack_dir", "shared_dir", "es_ca_certs", "kafka_ssl_cafile",
                        "metrics_port"})


def deployment_name(settings: FlowSettings, what: str) -> str:
    return f"{settings.topic_prefix}-{what}"


def deployment_env(settings: FlowSettings) -> dict[str, str]:
    """The pipeline's settings as ``NEWSFLOW_*`` for a deployment: no secrets (passwords,
    user names), nothing host-local (endpoints, folders, the metrics port)."""
    fields = FlowSettings.model_fields
    skip = {name for name in fields
            if name in HOST_LOCAL or name.endswith("_username")
            or isinstance(getattr(settings, name), SecretStr)
            or "SecretStr" in str(fields[name].annotation)}
    values = settings_env(settings)
    return {var: value for var, value in values.items()
            if var.removeprefix("NEWSFLOW_").lower() in fields
            and var.removeprefix("NEWSFLOW_").lower() not in skip}


def _on_pool(fl: Flow[..., Any], settings: FlowSettings, what: str, source: Path,
             **kwargs: Any) -> RunnerDeployment:
    # from_flow is sync here (no running event loop); its type says "or a coroutine".
    deployment: Any = RunnerDeployment.from_flow(
        fl, name=deployment_name(settings, what), work_pool_name=settings.work_pool,
        job_variables={"env": deployment_env(settings)}, **kwargs)
    # The runs load the code from `source` on their host: `<file>:<function>` under it.
    module = Path(fl.fn.__code__.co_filename).resolve()
    deployment.entrypoint = f"{module.relative_to(REPO).as_posix()}:{fl.fn.__name__}"
    deployment.storage = LocalStorage(str(source))
    return deployment


def deployments(settings: FlowSettings, source: Path = REPO) -> list[RunnerDeployment]:
    """Every deployment of this pipeline, not yet applied. ``source``: where the repository
    is on the hosts (the same path on each)."""
    out = [_on_pool(stage_worker, settings, stage, source, parameters={"stage": stage},
                    tags=["newsflow", "stage", stage], work_queue_name=DEFAULT_QUEUE,
                    description=f"the {stage} stage's worker loop; one run = one replica")
           for stage in STAGES]
    out.append(_on_pool(supervisor, settings, SUPERVISOR, source, tags=["newsflow", "supervisor"],
                        parameters={"host": 1}, work_queue_name=DEFAULT_QUEUE,
                        description="keeps the stages' replicas on the online hosts; one run "
                        "per host, the lowest online host's acts"))
    out += [_on_pool(fl, settings, what, source, tags=["newsflow", "ops"],
                     work_queue_name=DEFAULT_QUEUE,
                     cron=settings.rollover_schedule if what == "rollover" else None)
            for what, fl in OPS.items()]
    return out


def apply_deployments(settings: FlowSettings, source: Path = REPO) -> dict[str, UUID]:
    """Create the pool if missing and create or update every deployment; their ids."""
    ensure_pool(settings)
    ids: dict[str, Any] = {}
    whats = [*STAGES, SUPERVISOR, *OPS]
    for what, deployment in zip(whats, deployments(settings, source), strict=True):
        ids[what] = deployment.apply()  # sync here; its type says "or a coroutine"
    log.info("deployments=%d work_pool=%s applied", len(ids), settings.work_pool)
    return ids


def full_names(settings: FlowSettings) -> dict[str, str]:
    """what (stage, supervisor or operator flow) -> ``<flow>/<deployment>`` as Prefect names
    it."""
    names = {stage: f"{stage_worker.name}/{deployment_name(settings, stage)}"
             for stage in STAGES}
    names[SUPERVISOR] = f"{supervisor.name}/{deployment_name(settings, SUPERVISOR)}"
    names.update({what: f"{fl.name}/{deployment_name(settings, what)}"
                  for what, fl in OPS.items()})
    return names


def deployment_ids(settings: FlowSettings) -> dict[str, UUID]:
    """what -> id of this pipeline's deployments that exist on the server."""
    found = {}
    with get_client(sync_client=True) as client:
        for what, name in full_names(settings).items():
            with contextlib.suppress(ObjectNotFound):
                found[what] = client.read_deployment_by_name(name).id
    return found


def replicas_variable(settings: FlowSettings) -> str:
    """The Prefect Variable holding the desired replicas per stage (JSON), set by
    ``flows.replicas.ensure_replicas`` and read by the supervisor."""
    return f"{settings.work_pool}-{settings.topic_prefix}-replicas"


def delete_deployments(settings: FlowSettings) -> None:
    """Remove this pipeline's deployments, their runs not yet finished and its desired
    replicas from the server."""
    ids = deployment_ids(settings)
    Variable.unset(replicas_variable(settings))
    with get_client(sync_client=True) as client:
        for run in runs_of(ids.values()):
            with contextlib.suppress(ObjectNotFound):
                client.delete_flow_run(run.id)
        for deployment_id in ids.values():
            with contextlib.suppress(ObjectNotFound):
                client.delete_deployment(deployment_id)
