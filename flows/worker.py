"""Prefect flow ``stage-worker``: runs one stage's worker loop against Kafka until stopped.

A Prefect deployment of this flow keeps a stage running (``flows/deploy.py``); more flow runs
of it, placed on the hosts' queues, are more replicas in the stage's consumer group
(``flows/replicas.py``). Thin: the loop is ``workers.runtime``.

Kept running: an exception is retried by Prefect (``retries``); a run that still fails, whose
process dies, or whose host is lost, is replaced by the supervisor (``flows/supervisor.py``)
within a round, on a host that is up. That is the one way runs are replaced (no ``on_crashed``
hook: a hook runs on the dead run's own host, which may be the thing that died).
"""

from __future__ import annotations

import logging

from prefect import flow, get_run_logger

from flows.settings import FlowSettings, load_settings
from workers.runtime.worker import make_worker
from workers.topology import STAGES

log = logging.getLogger(__name__)


@flow(name="stage-worker", retries=2, retry_delay_seconds=15)
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
