"""The rollover flow, as deployed on its schedule, bounds what grows in Elasticsearch: a write
index past its age condition gets a new generation, and the dedup state's partitions past
their window are deleted. Run in this process, recorded on the real Prefect server."""

from __future__ import annotations

import time
import uuid

from elasticsearch import Elasticsearch

from flows.rollover import rollover_flow
from newsflow.config import Settings
from workers.dedup.es_store import ElasticsearchStore, state_partitions
from workers.dedup.partitions import DAY
from workers.io import elastic


def test_the_rollover_flow_rolls_over_an_old_index_and_expires_old_dedup_state(
    base_settings: Settings,
) -> None:
    settings = base_settings.model_copy(update={"es_alias": f"news-ro{uuid.uuid4().hex[:10]}"})
    es = elastic.client(settings)
    parts = state_partitions(settings)
    now = time.time()
    try:
        first = elastic.ensure_index(es, settings)
        # Dedup state written today, and by a worker whose clock says 60 days ago (a worker of
        # today would have deleted that partition itself, as the store does on a new one).
        current = ElasticsearchStore(es, parts).index
        old = ElasticsearchStore(es, parts, clock=lambda: now - 60 * DAY).index
        assert _partitions(es, settings) == {old, current}

        waiting = rollover_flow(settings=settings)  # the defaults: a fresh index is too young
        assert not waiting["rolled_over"] and waiting["conditions"] == {
            "[max_age: 30d]": False, "[max_docs: 10000000]": False,
            "[max_primary_shard_size: 10gb]": False}
        assert waiting["dedup_partitions_expired"] == [old]
        assert _partitions(es, settings) == {current}

        time.sleep(1.5)  # older than an age condition of one second
        done = rollover_flow(max_age="1s", max_size=None, max_docs=None, settings=settings)
        assert done["rolled_over"] and done["old_index"] == first
        assert done["conditions"] == {"[max_age: 1s]": True}
        assert elastic.write_index(es, settings.es_alias) == done["new_index"]
        assert done["dedup_partitions_expired"] == []
        assert _partitions(es, settings) == {current}  # within the window: kept
    finally:
        elastic.drop_index(es, settings)
    assert not _partitions(es, settings)


def _partitions(es: Elasticsearch, settings: Settings) -> set[str]:
    return set(es.indices.get(index=f"{settings.dedup_index}-*", allow_no_indices=True))
