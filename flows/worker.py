"""Prefect flow ``stage-worker``: runs one stage's worker loop against Kafka until stopped.

A Prefect deployment of this flow keeps a stage running (``flows/deploy.py``); more flow runs
of it are more replicas in the stage's consumer group. Thin: the loop is ``workers.runtime``.

Kept running: an exception is retried by Prefect (``retries``); a run that still fails, or
whose process dies (killed, out of memory: Prefect marks it Crashed and the serving process
runs the ``on_crashed`` hook), is replaced by a new run of the same deployment, so the stage
keeps its number of replicas. Runs outside a deployment (tests, ``newsflow worker``) are not
replaced; nor are a cancelled run (scaling down) and one stopped by SIGTERM (shutdown).
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client

from flows.settings import FlowSettings, load_settings
from workers.runtime.worker import make_worker
from workers.topology import STAGES

log = logging.getLogger(__name__)


def replace_run(flow: Any, flow_run: Any, state: Any) -> None:
    """Hook: start a new run of the deployment a failed or crashed run belonged to."""
    if flow_run.deployment_id is None:
        return
    if "termination signal" in (state.message or ""):
        # SIGTERM: a deliberate stop (``stack down``, the serving process shutting down), not a
        # crash to repair. A killed process (SIGKILL, out of memory) says "exited with status".
        log.info("stage-worker run %s stopped by a signal; not replaced", flow_run.id)
        return
    with get_client(sync_client=True) as client:
        new = client.create_flow_run_from_deployment(
            flow_run.deployment_id, parameters=flow_run.parameters,
            tags=list(flow_run.tags or []))
    log.warning("stage-worker run %s ended %s; replaced by %s", flow_run.id, state.name, new.id)


@flow(name="stage-worker", retries=2, retry_delay_seconds=15,
      on_failure=[replace_run], on_crashed=[replace_run])
def stage_worker(
    stage: str, max_idle_seconds: float | None = None, settings: FlowSettings | None = None
) -> dict[str, int]:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    settings = settings or load_settings()
    worker = make_worker(STAGES[stage], settings, install_signals=False)
    get_run_logger().info("stage %s consuming %s", stage, STAGES[stage].input_topic(settings))
    worker.run(max_idle_seconds=max_idle_seconds)
    return dict(worker.counts)
