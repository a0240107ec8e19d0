"""The deployments newsflow registers: a stage worker per stage, every operator flow, and
rollover on a schedule, so the index gets a new generation without anyone running it."""

from __future__ import annotations

from flows.deploy import deployments, full_names
from flows.settings import FlowSettings
from workers.topology import STAGES


def test_every_stage_and_operator_flow_is_deployed() -> None:
    names = full_names(FlowSettings(topic_prefix="t"))
    assert {names[s] for s in STAGES} == {f"stage-worker/t-{s}" for s in STAGES}
    assert {names[w] for w in ("backfill", "reindex", "reenrich", "replay-dlq", "publish",
                               "rollover")} == {
        "backfill/t-backfill", "reindex/t-reindex", "reenrich/t-reenrich",
        "replay-dlq/t-replay-dlq", "publish/t-publish", "rollover/t-rollover"}


def test_rollover_runs_on_its_schedule_and_nothing_else_does() -> None:
    settings = FlowSettings(topic_prefix="t", rollover_schedule="15 4 * * *")
    scheduled = {d.name: [s.schedule.cron for s in d.schedules]  # type: ignore[union-attr]
                 for d in deployments(settings) if d.schedules}
    assert scheduled == {"t-rollover": ["15 4 * * *"]}
