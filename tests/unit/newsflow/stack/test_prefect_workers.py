"""Each host's Prefect worker as the stack manager runs it: stopping it ends its flow runs,
those it started while it was being stopped included."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from flows import pool
from newsflow.config import Settings
from newsflow.stack import prefect_workers, processes
from newsflow.stack.paths import Paths


def test_stop_ends_the_runs_the_worker_started_while_it_was_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(stack_dir=tmp_path)
    paths = Paths.of(settings)
    processes.start(prefect_workers.name(1), ["sleep", "60"], run_dir=paths.run,
                    log_path=paths.log("worker"))
    running = subprocess.Popen(["sleep", "60"])
    late = subprocess.Popen(["sleep", "60"])  # picked up by the worker as it shut down
    found = iter([[running.pid], [late.pid]])
    monkeypatch.setattr(prefect_workers, "flow_run_pids", lambda _s, _h: next(found))
    crashed: list[int] = []
    monkeypatch.setattr(pool, "crash_host_runs", lambda _s, host, _why: crashed.append(host))

    assert prefect_workers.stop(settings, 1)
    assert running.wait(timeout=10) == -signal.SIGTERM
    assert late.wait(timeout=10) == -signal.SIGTERM
    assert processes.pid_of(prefect_workers.name(1), paths.run) is None
    assert crashed == [1]  # what the server still shows active on the host is marked Crashed
    assert prefect_workers.running_hosts(settings) == []


def test_nothing_to_stop_is_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefect_workers, "flow_run_pids", lambda _s, _h: [])
    monkeypatch.setattr(pool, "crash_host_runs", lambda *_a: 0)
    assert not prefect_workers.stop(Settings(stack_dir=tmp_path), 2)
