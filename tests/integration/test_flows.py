"""The Prefect flows, run in this process and recorded on the real Prefect server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from flows import deploy, pool, replicas
from flows import publish as pub
from flows.publish import publish_flow
from flows.worker import stage_worker
from newsflow.stack.processes import kill_pids, pids_with_env
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
    for stage in ("dedup", "entities", "stories", "index"):
        pipeline.start_worker(stage)
    es = elastic.client(pipeline.settings)
    wait_for(lambda: es.count(index=pipeline.settings.es_alias)["count"] == 1, what="indexed")
    doc = es.get(index=pipeline.settings.es_alias, id=report["ids"][0])["_source"]
    assert doc["url"] == "https://archive.example/lyon-market.txt"
    assert doc["title"] == "Lyon closes market hall for renovation"


def _article(n: int) -> bytes:
    return json.dumps({"url": f"https://deployed.example/{n}", "title": f"Story {n}",
                       "text": "The regional parliament approved the budget on Tuesday, "
                       f"number {n}, after a long debate about schools, roads and hospitals "
                       "that lasted well into the night."}).encode()


def _host_pids(pipeline: Pipeline, host: int) -> list[int]:
    """Host ``host``'s Prefect worker and every flow-run process it started."""
    return pids_with_env(pool.HOST_MARKER, pool.worker_name(pipeline.settings, host))


@pytest.fixture
def hosts(pipeline: Pipeline, tmp_path: Path) -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    """Two hosts' Prefect workers of a work pool of this test's own, and the deployments;
    all removed afterwards, their flow runs' processes included."""
    pipeline.settings = pipeline.settings.model_copy(update={
        "entities_enabled": False, "work_pool": f"pool-t{uuid.uuid4().hex[:10]}",
        "supervise_seconds": 3, "worker_heartbeat_seconds": 3})
    deploy.apply_deployments(pipeline.settings)
    workers = {}
    try:
        for host in (1, 2):
            argv, env = pool.worker_command(pipeline.settings, host)
            log = open(tmp_path / f"prefect-worker-{host}.log", "ab")  # noqa: SIM115
            workers[host] = subprocess.Popen(argv, env={**pipeline.env(), **env}, cwd=REPO,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        yield workers
    finally:
        for host in workers:
            kill_pids(_host_pids(pipeline, host), timeout=20)
        for proc in workers.values():
            proc.wait(timeout=30)
        for host in workers:
            print((tmp_path / f"prefect-worker-{host}.log").read_text(errors="replace")[-6000:])
        deploy.delete_deployments(pipeline.settings)
        pool.delete_pool(pipeline.settings)


def test_replicas_spread_over_hosts_and_a_lost_host_is_replaced_by_the_supervisor(
    pipeline: Pipeline, hosts: dict[int, subprocess.Popen[bytes]]
):
    settings = pipeline.settings
    es = elastic.client(settings)
    wait_for(lambda: pool.online_hosts(settings) == [1, 2], what="both hosts' workers online")

    placed = replicas.ensure_replicas(settings, 2)
    assert placed == {s: {1: 1, 2: 1} for s in STAGES}
    wait_for(lambda: replicas.running_placement(settings) == {s: {1: 1, 2: 1} for s in STAGES},
             timeout=300, what="every stage running once on each host")
    # Idempotent: asking again starts nothing more.
    assert replicas.ensure_replicas(settings, 2) == placed
    first = pub.publish(settings, [_article(1)])
    wait_for(lambda: elastic.count(es, settings) == 1, timeout=180,
             what="indexed by the deployed stage workers")

    lost = {r.id for r in replicas.observe(settings)[0] if r.host == 2}
    assert len(lost) == len(STAGES) + 1  # its stage replicas and its supervisor
    for pid in _host_pids(pipeline, 2):  # the host dies: its worker and its flow runs
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    hosts[2].wait(timeout=30)

    wait_for(lambda: replicas.running_placement(settings) == {s: {1: 2} for s in STAGES},
             timeout=300, what="every stage back at 2 running replicas, on host 1")
    print(f"back at full replica count {time.monotonic() - killed_at:.1f}s after host 2 died")
    with get_client(sync_client=True) as client:
        for run_id in lost:
            state = client.read_flow_run(run_id).state
            assert state is not None and state.type == StateType.CRASHED
            assert "host 2 lost" in (state.message or "")
    assert pool.online_hosts(settings) == [1]

    second = pub.publish(settings, [_article(2)])
    wait_for(lambda: elastic.count(es, settings) == 2, timeout=180,
             what="indexed after the replacement")
    es.indices.refresh(index=settings.es_alias)
    hits = es.search(index=settings.es_alias, query={"match_all": {}})["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted([first.ids[0], second.ids[0]])

    # A run whose process dies on a live host is replaced too (Prefect marks it Crashed).
    [(_, _, victim), *_] = [r for r in pool.stage_runs(settings) if r[0] == "index"]
    [pid] = pids_with_env("PREFECT__FLOW_RUN_ID", victim, outermost=True)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: victim not in {r[2] for r in pool.stage_runs(settings)}
             and replicas.running_placement(settings) == {s: {1: 2} for s in STAGES},
             timeout=300, what="the killed index run replaced on host 1")
