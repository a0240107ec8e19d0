"""Background processes by pid file: started, found, listed, stopped; the tail of the
latest run's log; processes found by a variable they inherited, and killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from newsflow.stack import processes


def test_a_process_is_started_found_and_stopped(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "logs" / "sleeper.log"
    pid = processes.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                          run_dir=run, log_path=log)
    try:
        assert processes.pid_of("sleeper", run) == pid
        assert processes.names(run) == ["sleeper"]
        assert log.read_text().startswith("\n=== ")
    finally:
        assert processes.stop("sleeper", run, timeout=10)
    assert processes.pid_of("sleeper", run) is None
    assert not processes.stop("sleeper", run)  # nothing left to stop
    assert processes.names(run) == []


def test_a_stale_pid_file_is_ignored_and_removed(tmp_path: Path) -> None:
    (tmp_path / "ghost.pid").write_text("999999999\n12345\n")
    assert processes.pid_of("ghost", tmp_path) is None
    assert not (tmp_path / "ghost.pid").exists()


def test_the_log_tail_is_the_latest_runs(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("=== run 1\nold\n=== run 2\n" + "".join(f"line {i}\n" for i in range(30)))
    assert processes.log_tail(log, lines=3) == "line 27\nline 28\nline 29"
    assert "old" not in processes.log_tail(log, lines=100)
    assert processes.log_tail(tmp_path / "missing.log") == "(no log)"


def test_processes_are_found_by_an_inherited_variable_and_killed(tmp_path: Path) -> None:
    # A parent in a session of its own and the child it spawns, like a Prefect worker's runs.
    marker = f"m{tmp_path.name}"
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)']); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            env={**os.environ, "NEWSFLOW_TEST_MARKER": marker})
    try:
        found = _wait(lambda: len(processes.pids_with_env("NEWSFLOW_TEST_MARKER", marker)) == 2)
        assert found
        assert processes.pids_with_env("NEWSFLOW_TEST_MARKER", marker, outermost=True) == [
            proc.pid]
        processes.kill_pids(processes.pids_with_env("NEWSFLOW_TEST_MARKER", marker), timeout=5)
        proc.wait(timeout=5)
        assert _wait(lambda: processes.pids_with_env("NEWSFLOW_TEST_MARKER", marker) == [])
    finally:
        proc.kill()


def _wait(predicate: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
