"""Background processes tracked by pid files: start, find, stop, list.

Used by :mod:`newsflow.stack` for Kafka, Elasticsearch, Prefect and CoreNLP, and by the CLI for
the stage workers. A process started here outlives the Python process that started it
(``newsflow stack up`` returns, the broker keeps running), so the only record of it is
``<run_dir>/<name>.pid``:

* line 1: the pid, which is also the process-group id (``start_new_session=True``), so that
  :func:`stop` reaches the grandchildren too (``bin/elasticsearch`` runs a launcher JVM which runs
  the server JVM; ``prefect server start`` runs uvicorn);
* line 2: the process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22). After
  a reboot or a crash the pid may belong to some unrelated process; comparing start times tells
  them apart, so :func:`stop` never signals a stranger.

Linux only (``/proc``), like the rest of the local stack.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["AlreadyRunningError", "group_rss", "kill_pids", "log_tail", "names",
           "pid_of", "pids_with_env", "start", "stop"]

# Popen objects of the children started by *this* Python process. Kept so that a child that exits
# is reaped (a zombie would look alive to os.kill(pid, 0)) and so Popen does not warn about a
# still-running child when it is garbage collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class AlreadyRunningError(RuntimeError):
    """:func:`start` was asked for a name whose process is still alive."""


def _pid_file(name: str, run_dir: Path) -> Path:
    return Path(run_dir) / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    """Start time of ``pid`` (clock ticks since boot), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # zombie: exited, just not reaped by its parent yet
        return None
    return fields[19]  # field 22 of the whole line


def start(
    name: str,
    argv: Sequence[str],
    *,
    run_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in the background as ``name``; return its pid.

    stdout and stderr are appended to ``log_path`` (after a header line saying what was started
    and when). ``env`` replaces the environment when given (pass ``{**os.environ, ...}`` to
    extend it). The process gets its own session and process group, so it survives the caller's
    exit and Ctrl-C, and :func:`stop` can signal all of its descendants at once.
    """
    if (pid := pid_of(name, run_dir)) is not None:
        raise AlreadyRunningError(f"{name} is already running (pid {pid})")
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n=== {stamp} start {name}: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    pid_file = _pid_file(name, run_dir)
    tmp = pid_file.with_suffix(".pid.tmp")
    tmp.write_text(f"{proc.pid}\n{_start_time(proc.pid) or ''}\n")
    tmp.replace(pid_file)  # atomic: a reader never sees a half-written pid file
    return proc.pid


def _alive(pid: int, started: str | None) -> bool:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:  # our child, exited: reap it
        del _CHILDREN[pid]
        return False
    now = _start_time(pid)
    return now is not None and (not started or now == started)


def pid_of(name: str, run_dir: Path) -> int | None:
    """Pid of the live process started as ``name``, or None (a stale pid file is removed)."""
    pid_file = _pid_file(name, run_dir)
    try:
        lines = pid_file.read_text().split()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if _alive(pid, lines[1] if len(lines) > 1 else None):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _group_alive(pgid: int) -> bool:
    proc = _CHILDREN.get(pgid)
    if proc is not None and proc.poll() is not None:  # reap the leader, or it counts as a member
        del _CHILDREN[pgid]
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but not ours to signal (should not happen: same user)
        return True
    return True


def stop(name: str, run_dir: Path, timeout: float = 30) -> bool:
    """Stop ``name``: SIGTERM to its process group, SIGKILL after ``timeout`` seconds.

    Returns True if a process was running (and is now gone), False if there was nothing to stop.
    SIGTERM first because Kafka and Elasticsearch shut down cleanly on it (flush, close the log),
    which makes the next start fast and keeps the data.
    """
    pid = pid_of(name, run_dir)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(pid):
            break
    _pid_file(name, run_dir).unlink(missing_ok=True)
    return True


def pids_with_env(variable: str, value: str, outermost: bool = False) -> list[int]:
    """Pids of the processes whose environment has ``variable=value`` (children inherit it:
    this finds the processes a Prefect worker started, each in a session of its own).
    ``outermost``: only those whose parent does not have it (a flow run's engine, not the
    pool processes it spawned)."""
    wanted = f"{variable}={value}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # exited while we looked, or not ours to read
            continue
    if outermost:
        found = [pid for pid in found if _parent(pid) not in found]
    return sorted(found)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])  # field 4: ppid


def kill_pids(pids: Sequence[int], timeout: float = 30) -> None:
    """SIGTERM ``pids``, SIGKILL those still alive after ``timeout`` seconds."""
    started = {pid: _start_time(pid) for pid in pids}
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        alive = [p for p, t in started.items() if t is not None and _start_time(p) == t]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [p for p in alive if _alive(p, started[p])]
        if not alive:
            return


def names(run_dir: Path) -> list[str]:
    """Names of the processes in ``run_dir`` that are alive (stale pid files are removed)."""
    if not Path(run_dir).is_dir():
        return []
    found = (p.name.removesuffix(".pid") for p in Path(run_dir).glob("*.pid"))
    return sorted(n for n in found if pid_of(n, run_dir) is not None)


def group_rss(pgid: int) -> int:
    """Resident memory in bytes of all processes in process group ``pgid`` (0 if none)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process exited while we looked
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # field 5: pgrp
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: rss in pages
    return total


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines the latest run wrote to ``path`` (:func:`start` heads each run with
    '===')."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    starts = [i for i, line in enumerate(text) if line.startswith("=== ")]
    return "\n".join(text[starts[-1] if starts else 0 :][-lines:])
