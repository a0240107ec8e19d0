"""``newsflow worker STAGE`` (one stage in the foreground, or offline over JSONL) and
``newsflow workers start|stop`` (every stage's worker as a background process).

Background workers are ``newsflow worker STAGE`` processes named ``worker-<stage>-<n>``, with
pid files and logs in the stack folder next to the services', and the effective settings in
their environment. ``stop_workers`` also stops each host's Prefect worker
(:mod:`newsflow.stack.prefect_workers`) with the flow runs it started.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from newsflow.cli.common import console, err, fail, settings_of
from newsflow.config import Settings
from workers.settings import settings_env
from workers.topology import STAGES

log = logging.getLogger(__name__)

app = typer.Typer(help="Stage workers as background processes.", no_args_is_help=True)


def child_env(settings: Settings) -> dict[str, str]:
    """The effective settings as environment, so a child process sees what we see."""
    return {**os.environ, **settings_env(settings)}  # secrets revealed, None left out


def start_workers(settings: Settings, replicas: int) -> None:
    from newsflow.stack import processes
    from newsflow.stack.paths import Paths

    paths = Paths.of(settings)
    paths.logs.mkdir(parents=True, exist_ok=True)
    for stage in STAGES:
        for n in range(replicas):
            name = f"worker-{stage}-{n}"
            if processes.pid_of(name, paths.run):
                continue
            processes.start(name, [sys.executable, "-m", "newsflow", "worker", stage],
                            run_dir=paths.run, log_path=paths.log(name), env=child_env(settings))
            console.print(f"started {name} (log: {paths.log(name)})")


def stop_workers(settings: Settings) -> None:
    from newsflow.stack import prefect_workers, processes
    from newsflow.stack.paths import Paths

    for name in prefect_workers.stop_all(settings):
        console.print(f"stopped {name} and its flow runs")
    run_dir = Paths.of(settings).run
    for name in processes.names(run_dir):
        if name.startswith("worker-") and processes.stop(name, run_dir):
            console.print(f"stopped {name}")


@app.command("start")
def start(
    ctx: typer.Context,
    replicas: Annotated[int, typer.Option(min=1, help="workers per stage")] = 1,
) -> None:
    """Start every stage's worker in the background (logs in the stack folder)."""
    start_workers(settings_of(ctx), replicas)


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the background workers (SIGTERM: they finish their batch and commit)."""
    stop_workers(settings_of(ctx))


def worker(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    input: Annotated[Path | None, typer.Option(
        "--input", "-i", exists=True, dir_okay=False, readable=True,
        help="offline: read the stage's input records from this JSONL file instead of Kafka")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="offline: write the stage's output records here "
        "(default: stdout)")] = None,
    max_idle: Annotated[float | None, typer.Option(
        help="stop after this many seconds without input")] = None,
) -> None:
    """Run one stage: against Kafka until stopped, or offline over a JSONL file.

    Offline, dead letters and skips are reported on stderr, one JSON object per line.
    """
    if stage not in STAGES:
        raise fail(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    settings = settings_of(ctx)
    spec = STAGES[stage]
    if input is None:
        from workers.runtime.worker import make_worker

        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port)
        make_worker(spec, settings).run(max_idle_seconds=max_idle)
        return

    from workers.runtime.offline import run_offline

    with input.open("rb") as fh:
        results = run_offline(spec, settings, fh)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for r in results:
            if r.kind == "emitted" and r.output is not None:
                out.write(r.output.model_dump_json(exclude_none=True) + "\n")
            else:
                err.print(json.dumps({"line": r.message.offset + 1, "outcome": r.kind,
                                      "id": r.article_id, "reason": r.reason, "error": r.error},
                                     ensure_ascii=False), markup=False, highlight=False)
    finally:
        if output:
            out.close()
    counts = {k: sum(r.kind == k for r in results) for k in ("emitted", "skipped", "dead")}
    err.print(f"{stage}: {counts}", markup=False)
