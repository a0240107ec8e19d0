"""``newsflow stack status``: what runs, as tables.

In: the settings. Out, on the console: the services (endpoint, pid, state), the background
workers, each stage's lag and the documents in the index. A service that failed its health
check is not asked again: its client would retry for half a minute, logging a traceback per
attempt, before giving up.
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Column, Table

from newsflow.cli.common import console, err
from newsflow.config import Settings

# The names `stack status --json` gives the services (the same on every host of a cluster).
JSON_NAMES = {"kafka": "kafka", "elasticsearch": "elasticsearch", "prefect": "prefect-server",
              "corenlp": "corenlp"}


def status_json(settings: Settings) -> dict[str, Any]:
    """What runs, for scripts: ``{"services": [{name, host, pid, endpoint, state}],
    "workers": [{stage, host, pid}]}``: every host's services and Prefect worker (one host
    unless ``stack up --nodes N``), the background workers (host 1) and the running stage
    flow runs with the host whose queue they run from."""
    from newsflow import stack
    from newsflow.stack import processes
    from newsflow.stack.paths import Paths

    services = [{"name": JSON_NAMES.get(s.service, s.service), "host": s.host, "pid": s.pid,
                 "endpoint": s.endpoint, "state": "up" if s.healthy else "down"}
                for s in stack.status(settings)]
    run_dir = Paths.of(settings).run
    for w in stack.prefect_worker_status(settings):
        services.append({"name": "prefect-worker", "host": w.host, "pid": w.pid,
                         "endpoint": w.endpoint, "state": "up" if w.healthy else "down"})
    workers = []
    for name in processes.names(run_dir):
        if name.startswith("worker-") and not name.startswith("worker-prefect-"):
            stage = name.removeprefix("worker-").rsplit("-", 1)[0]  # worker-<stage>-<n>
            workers.append({"stage": stage, "host": 1, "pid": processes.pid_of(name, run_dir)})
    if any(s["name"] == "prefect-server" and s["state"] == "up" for s in services):
        workers += _flow_run_workers(settings)
    return {"services": services, "workers": workers}


def _flow_run_workers(settings: Settings) -> list[dict[str, Any]]:
    """The RUNNING stage-worker flow runs: stage, host (from the run's queue), pid (the
    process whose environment names the run; None when it runs on another machine)."""
    from flows.pool import stage_runs
    from newsflow.stack import processes

    out = []
    for stage, host, run_id in stage_runs(settings):
        # The run's engine process, not the processes it spawned (they carry the id too).
        pids = processes.pids_with_env("PREFECT__FLOW_RUN_ID", run_id, outermost=True)
        out.append({"stage": stage, "host": host, "pid": pids[0] if pids else None,
                    "flow_run_id": run_id})
    return out


def print_status_json(settings: Settings) -> None:
    console.print_json(json.dumps(status_json(settings)))


def print_status(settings: Settings) -> None:
    from newsflow import stack
    from newsflow.stack import processes
    from newsflow.stack.paths import Paths

    table = Table("service", Column("endpoint", no_wrap=True), "pid", "state", title="services")
    services = stack.status(settings) + stack.prefect_worker_status(settings)
    for s in services:
        table.add_row(s.name, s.endpoint, str(s.pid or "-"), s.detail)
    console.print(table)
    # Below the table, whole: in a table cell a path is cut to the terminal's width.
    logs = sorted({str(s.log.parent) for s in services})
    console.print(f"service logs: {', '.join(logs)}/<service>.log", soft_wrap=True)
    up = {s.service for s in services if s.healthy}
    run_dir = Paths.of(settings).run
    table = Table("worker", "pid", title="workers")
    for name in processes.names(run_dir):
        if name.startswith("worker-"):
            table.add_row(name, str(processes.pid_of(name, run_dir) or "not running"))
    console.print(table)
    if "kafka" not in up:
        err.print("kafka: down, stage lag not shown")
    else:
        _print_lag(settings)
    if "elasticsearch" not in up:
        err.print("elasticsearch: down, document count not shown")
    else:
        _print_documents(settings)


def _print_lag(settings: Settings) -> None:
    from kafka.errors import CoordinatorNotAvailableError

    from workers.io import kafka_admin

    try:
        table = Table("stage", "input topic", "group", "end offset", "committed", "lag",
                      title="stage lag")
        for row in kafka_admin.lag(settings):
            table.add_row(row.stage, row.topic, row.group, str(row.end_offset),
                          str(row.committed), str(row.lag))
        console.print(table)
    except CoordinatorNotAvailableError:  # normal for some seconds after a first start
        err.print("kafka: stage lag not known yet: the broker's group coordinator is still "
                  "starting (ask again in a few seconds)")
    except Exception as exc:  # status must still print what it can
        err.print(f"kafka: unavailable ({type(exc).__name__}: {exc})", markup=False)


def _print_documents(settings: Settings) -> None:
    from workers.io import elastic

    try:
        console.print(f"documents in '{settings.es_alias}': "
                      f"{elastic.count(elastic.client(settings), settings)}")
    except Exception as exc:
        err.print(f"elasticsearch: unavailable ({type(exc).__name__}: {exc})", markup=False)
