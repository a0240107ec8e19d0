"""The Prefect flows, run in this process and recorded on the real Prefect server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import StateType

from flows import deploy
from flows import publish as pub
from flows.publish import publish_flow
from flows.worker import stage_worker
from workers.io import elastic
from workers.topology import STAGES

from .conftest import REPO, Pipeline, wait_for

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


def _pid_of_flow_run(run_id: str) -> int | None:
    """The process running a flow run: the runner gives it PREFECT__FLOW_RUN_ID."""
    wanted = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted in environ.read_bytes().split(b"\0"):
                return int(environ.parent.name)
        except OSError:
            continue
    return None


def _running(deployment_id) -> list:  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return [r for r in client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
            if r.state is not None and r.state.type == StateType.RUNNING]


def test_deployed_stages_run_continuously_and_a_killed_run_is_replaced(
    pipeline: Pipeline, tmp_path: Path
):
    pipeline.settings = pipeline.settings.model_copy(update={"entities_enabled": False})
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "flows.deploy"], env=pipeline.env(),
                              cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    es = elastic.client(pipeline.settings)
    try:
        assert deploy.ensure_replicas(pipeline.settings, 1) == {s: 1 for s in STAGES}
        ids = deploy.wait_for_deployments(pipeline.settings)
        wait_for(lambda: all(len(_running(ids[s])) == 1 for s in STAGES), timeout=180,
                 what="one running flow run per stage")
        # Idempotent: asking again starts nothing more.
        deploy.ensure_replicas(pipeline.settings, 1)
        assert all(len(deploy.active_runs(ids[s])) == 1 for s in STAGES)

        def article(n: int) -> bytes:
            return json.dumps({"url": f"https://deployed.example/{n}", "title": f"Story {n}",
                               "text": "The regional parliament approved the budget on "
                               f"Tuesday, number {n}, after a long debate about schools, "
                               "roads and hospitals that lasted well into the night."}).encode()

        first = pub.publish(pipeline.settings, [article(1)])
        wait_for(lambda: elastic.count(es, pipeline.settings) == 1, timeout=180,
                 what="indexed by the deployed stage workers")

        [victim] = _running(ids["clean"])
        pid = wait_for(lambda: _pid_of_flow_run(str(victim.id)), what="the clean run's process")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: [r for r in _running(ids["clean"]) if r.id != victim.id], timeout=180,
                 what="a new clean run replacing the killed one")
        with get_client(sync_client=True) as client:
            dead = client.read_flow_run(victim.id)
        assert dead.state is not None and dead.state.type == StateType.CRASHED

        second = pub.publish(pipeline.settings, [article(2)])
        wait_for(lambda: elastic.count(es, pipeline.settings) == 2, timeout=180,
                 what="indexed after the replacement")
        assert es.exists(index=pipeline.settings.es_alias, id=second.ids[0])
        assert es.exists(index=pipeline.settings.es_alias, id=first.ids[0])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        print((tmp_path / "serve.log").read_text(errors="replace")[-5000:])
        deploy.delete_deployments(pipeline.settings)
