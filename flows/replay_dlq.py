"""Prefect flow ``replay-dlq``: ``newsflow dlq replay`` for operators, recorded in Prefect.

Re-publishes dead letters (filtered by stage, reason, time) to their stage's input topic,
each once. Thin: the work is ``newsflow.dlq.replay``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from newsflow import dlq
from newsflow.config import Settings, load_settings


@flow(name="replay-dlq")
def replay_dlq_flow(
    stage: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    report = dlq.replay(settings, stage=stage, reason=reason, since=since, until=until,
                        dry_run=dry_run)
    by_topic = report.by_topic(settings)
    get_run_logger().info(
        "%s %d dead letters (%s); %d replayed before; %d of unknown stages",
        "would replay" if dry_run else "replayed", len(report.replayed),
        ", ".join(f"{t}: {n}" for t, n in by_topic.items()) or "none", report.already,
        len(report.unknown_stage))
    return {"replayed": len(report.replayed), "by_topic": by_topic, "already": report.already,
            "unknown_stage": len(report.unknown_stage), "dry_run": dry_run}
