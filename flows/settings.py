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

    @field_validator("prefect_api_url")
    @classmethod
    def _no_credentials_in_prefect_url(cls, value: str) -> str:
        return no_credentials_in_url(value)


def load_settings(**overrides: object) -> FlowSettings:
    """The flows' settings (see :func:`workers.settings.load`)."""
    return load(FlowSettings, **overrides)
