"""Prefect flow ``rollover``: a new index generation behind the alias when the write index is
old or big enough, and the dedup state's partitions past its window deleted; deployed with a
schedule (``FlowSettings.rollover_schedule``), so neither grows without bound.

In: the conditions (age, primary shard size, documents). Out: whether it rolled over, the
old and new index, and the dedup partitions deleted. Thin: the work is
``workers.io.elastic.rollover`` (the core ``_rollover`` API; where Elasticsearch has ILM, its
policy does the same by itself) and ``workers.dedup.es_store.expire_partitions`` (the dedup
workers do it too, whenever they start a new partition).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.settings import FlowSettings, load_settings
from workers.dedup.es_store import expire_partitions, state_partitions
from workers.io import elastic


@flow(name="rollover")
def rollover_flow(
    max_age: str | None = "30d",
    max_size: str | None = "10gb",
    max_docs: int | None = 10_000_000,
    dry_run: bool = False,
    settings: FlowSettings | None = None,
) -> dict[str, Any]:
    settings = settings or load_settings()
    es = elastic.client(settings)
    result = elastic.rollover(es, settings, max_age=max_age,
                              max_primary_shard_size=max_size, max_docs=max_docs,
                              dry_run=dry_run)
    expired = [] if dry_run else expire_partitions(es, state_partitions(settings))
    get_run_logger().info("rollover of %s: %s -> %s (%s)", settings.es_alias, result.old_index,
                          result.new_index,
                          "rolled over" if result.rolled_over else "conditions not met")
    if expired:
        get_run_logger().info("dedup state partitions past the window deleted: %s",
                              ", ".join(expired))
    return {"rolled_over": result.rolled_over, "old_index": result.old_index,
            "new_index": result.new_index, "conditions": result.conditions,
            "dry_run": result.dry_run, "dedup_partitions_expired": expired}
