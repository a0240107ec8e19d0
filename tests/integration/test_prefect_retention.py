"""Prefect's flow-run history is bounded: with the environment ``newsflow stack`` starts the
Prefect server with, Prefect's own vacuum deletes runs that ended before the retention and
keeps the others. Run on a throwaway SQLite database (the server's ``PREFECT_HOME`` in a
temporary folder), in a child process so that Prefect reads exactly that environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.stack import cluster, commands
from newsflow.stack.endpoints import Endpoint

pytestmark = pytest.mark.integration

# Prefect's vacuum task, as its server's db_vacuum service schedules it (hourly), run once.
CHILD = """
import asyncio, json, sys
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from prefect.server.database import provide_database_interface
from prefect.server.services.db_vacuum import vacuum_old_flow_runs


async def main() -> None:
    db = provide_database_interface()
    await db.create_db()
    now = datetime.now(timezone.utc)
    async with db.session_context(begin_transaction=True) as session:
        flow = db.Flow(name="retention-probe")
        session.add(flow)
        await session.flush()
        for name, days in json.loads(sys.argv[1]).items():
            session.add(db.FlowRun(name=name, flow_id=flow.id, state_type="COMPLETED",
                                   state_name="Completed", end_time=now - timedelta(days=days)))
    await vacuum_old_flow_runs(db=db)
    async with db.session_context() as session:
        names = (await session.execute(sa.select(db.FlowRun.name))).scalars().all()
    print(json.dumps(sorted(names)))


asyncio.run(main())
"""


def test_the_prefect_server_deletes_flow_runs_older_than_the_retention(tmp_path: Path) -> None:
    settings = Settings(prefect_run_retention_days=14, stack_dir=tmp_path)
    (server,) = cluster.instances(settings, 1, ("prefect",))
    cmd = commands.prefect(server, Endpoint("127.0.0.1", 4200))
    assert cmd.env is not None
    # The server's own environment, minus any client setting pointing at another server.
    env = {k: v for k, v in cmd.env.items() if not k.startswith("PREFECT_API_")}
    runs = {"ended-15-days-ago": 15, "ended-13-days-ago": 13, "ended-an-hour-ago": 1 / 24}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(runs)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        "ended-13-days-ago", "ended-an-hour-ago"]
    assert (tmp_path / "prefect" / "prefect.db").is_file()  # the database the server would use
