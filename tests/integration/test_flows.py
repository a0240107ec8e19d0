"""The Prefect flows, run in this process and recorded on the real Prefect server."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from flows.publish import publish_flow
from flows.worker import stage_worker
from newsflow import elastic

from .conftest import Pipeline, wait_for

pytestmark = pytest.mark.integration


def test_publish_and_stage_worker_flows_run_on_the_prefect_server(pipeline: Pipeline, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    body = (
        "The city council of Lyon voted on Monday to close the old market hall for a "
        "two-year renovation, the mayor said, adding that traders would move to a "
        "temporary site on the river bank until the work is finished in 2027."
    )
    (folder / "lyon-market.txt").write_text("Lyon closes market hall for renovation\n" + body)
    (folder / "broken.jsonl").write_text("{ this is not json\n")

    state = publish_flow(
        paths=[str(folder)],
        url_prefix="https://archive.example/",
        settings=pipeline.settings,
        return_state=True,
    )
    report = state.result()
    assert report["published"] == 2 and len(report["ids"]) == 1

    clean_state = stage_worker(
        "clean", max_idle_seconds=3, settings=pipeline.settings, return_state=True
    )
    assert clean_state.result() == {"emitted": 1, "dead": 1}

    with get_client(sync_client=True) as client:
        for s in (state, clean_state):
            run = client.read_flow_run(s.state_details.flow_run_id)
            assert run.state is not None and run.state.type == StateType.COMPLETED

    # The rest of the pipeline picks the cleaned article up and indexes it.
    for stage in ("dedup", "entities", "index"):
        pipeline.start_worker(stage)
    es = elastic.client(pipeline.settings)
    wait_for(lambda: es.count(index=pipeline.settings.es_alias)["count"] == 1, what="indexed")
    doc = es.get(index=pipeline.settings.es_alias, id=report["ids"][0])["_source"]
    assert doc["url"] == "https://archive.example/lyon-market.txt"
    assert doc["title"] == "Lyon closes market hall for renovation"
