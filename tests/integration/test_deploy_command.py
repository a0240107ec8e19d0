"""`newsflow deploy` on one host, as `make run` uses it: the work pool, host 1's Prefect
worker, a run per stage; `stack status --json` lists the runs; stopping the workers ends the
runs (Crashed, not Running forever) and leaves no process behind."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prefect.client.schemas.objects import StateType

from flows import deploy, pool
from newsflow.stack.processes import kill_pids, pids_with_env
from workers.topology import STAGES

from .conftest import REPO, Pipeline

pytestmark = pytest.mark.integration


def _newsflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "-m", "newsflow", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"newsflow {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_deploy_runs_every_stage_on_host_1_and_stopping_ends_the_runs(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.settings = pipeline.settings.model_copy(update={
        "entities_enabled": False, "work_pool": f"pool-t{uuid.uuid4().hex[:10]}",
        "stack_dir": tmp_path / "stack"})  # its own pid files and logs; the services' are not
    settings = pipeline.settings
    env = {**pipeline.env(), "COLUMNS": "200"}
    marker = pool.worker_name(settings, 1)
    try:
        out = _newsflow(env, "deploy")
        for stage in STAGES:
            assert f"stage-worker/{settings.topic_prefix}-{stage}" in out
        assert out.count("host 1: 1") == len(STAGES)
        assert (tmp_path / "stack" / "run" / "prefect-worker-1.pid").is_file()

        out = _newsflow(env, "publish", "--seeds", "--wait")
        assert "dead-lettered 0" in out

        status = json.loads(_newsflow(env, "stack", "status", "--json"))
        runs = [w for w in status["workers"] if "flow_run_id" in w]
        assert sorted(w["stage"] for w in runs) == sorted(STAGES)
        for w in runs:
            assert w["host"] == 1
            assert w["pid"] in pids_with_env("PREFECT__FLOW_RUN_ID", w["flow_run_id"])

        # Again: nothing more is started, the same worker serves.
        _newsflow(env, "deploy")
        assert len(pool.stage_runs(settings)) == len(STAGES)

        out = _newsflow(env, "workers", "stop")
        assert "stopped prefect-worker-1" in out
        assert pids_with_env(pool.HOST_MARKER, marker) == []
        ids = deploy.deployment_ids(settings)
        ended = pool.runs_of([ids[s] for s in STAGES], list(StateType))
        assert ended and all(r.state is not None and r.state.type in
                             (StateType.CRASHED, StateType.CANCELLED) for r in ended)
    finally:
        kill_pids(pids_with_env(pool.HOST_MARKER, marker), timeout=20)
        print((tmp_path / "stack" / "logs" / "prefect-worker-1.log").read_text(
            errors="replace")[-6000:] if (tmp_path / "stack" / "logs").is_dir() else "")
        deploy.delete_deployments(settings)
        pool.delete_pool(settings)
