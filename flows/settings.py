"""The flows' settings: the data plane's, plus the Prefect server and where state is kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from workers.settings import WorkerSettings, load, no_credentials_in_url


class FlowSettings(WorkerSettings):
    prefect_api_url: str = Field("http://127.0.0.1:4200/api", description="Prefect server API")
    stack_dir: Path = Field(Path(".stack"), description="downloads, data, logs, pid files, "
                            "backfill checkpoints")
    shared_dir: Path = Field(Path("../shared"), description="shared data (the seed article's "
                             "text)")
    prefect_run_retention_days: int = Field(
        14, ge=1, description="the local Prefect server deletes flow runs that ended longer "
        "ago than this (its db_vacuum service)")
    rollover_schedule: str = Field(
        "0 2 * * *", description="cron (UTC) of the deployed rollover flow: a new index "
        "generation when the write index is 30 days old, 10 GB per shard or 10M documents")
    work_pool: str = Field(
        "newsflow", description="Prefect work pool the stage workers and operator flows run "
        "from; host n's Prefect worker polls its queues host-<n> and default")
    work_pool_type: str = Field(
        "process", description="type of the work pool when it is created: 'process' (local "
        "hosts) or 'kubernetes' (a cluster)")
    supervise_seconds: float = Field(
        5, gt=0, description="the supervisor's loop period: how often it looks for lost hosts "
        "and missing replicas")
    worker_heartbeat_seconds: float = Field(
        5, gt=0, description="a Prefect worker's heartbeat period; a host whose worker has not "
        "sent one for 3x this is offline and its runs are replaced elsewhere")

    @field_validator("prefect_api_url")
    @classmethod
    def _no_credentials_in_prefect_url(cls, value: str) -> str:
        return no_credentials_in_url(value)


def load_settings(**overrides: object) -> FlowSettings:
    """The flows' settings (see :func:`workers.settings.load`)."""
    return load(FlowSettings, **overrides)
