"""Prefect flow ``stage-worker``: runs one stage's worker loop against Kafka until stopped.

A Prefect deployment of this flow keeps a stage running; more flow runs of it are more
replicas in the stage's consumer group. Thin: the loop is ``workers.runtime``.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from newsflow.config import Settings, load_settings
from workers.runtime import make_worker
from workers.topology import STAGES


@flow(name="stage-worker")
def stage_worker(
    stage: str, max_idle_seconds: float | None = None, settings: Settings | None = None
) -> dict[str, int]:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    settings = settings or load_settings()
    worker = make_worker(STAGES[stage], settings, install_signals=False)
    get_run_logger().info("stage %s consuming %s", stage, STAGES[stage].input_topic(settings))
    worker.run(max_idle_seconds=max_idle_seconds)
    return dict(worker.counts)
