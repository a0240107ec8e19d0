"""A host's Prefect worker command, and which hosts are online from their heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.pool import (
    HOST_MARKER,
    host_of_queue,
    host_of_worker,
    online_from_heartbeats,
    worker_command,
)
from flows.settings import FlowSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_worker_command_polls_its_host_queue_and_default_and_installs_nothing() -> None:
    settings = FlowSettings(work_pool="p", worker_heartbeat_seconds=4,
                            prefect_api_url="http://10.0.0.1:4200/api")
    argv, env = worker_command(settings, 3)
    assert Path(argv[0]).name == "prefect" and argv[1:3] == ["worker", "start"]
    flags = list(zip(argv[3::2], argv[4::2], strict=True))
    assert ("--pool", "p") in flags and ("--type", "process") in flags
    assert [v for k, v in flags if k == "--work-queue"] == ["host-3", "default"]
    assert ("--name", "p-host-3") in flags and ("--install-policy", "never") in flags
    assert env["PREFECT_API_URL"] == "http://10.0.0.1:4200/api"
    assert env["PREFECT_WORKER_HEARTBEAT_SECONDS"] == "4"
    assert env["PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES"] == "false"
    assert env["NEWSFLOW_HOST"] == "3" and env[HOST_MARKER] == "p-host-3"


def test_the_pool_type_is_a_setting() -> None:
    argv, _ = worker_command(FlowSettings(work_pool="p", work_pool_type="kubernetes"), 1)
    assert argv[argv.index("--type") + 1] == "kubernetes"


def test_a_host_is_offline_after_three_heartbeat_periods_without_one() -> None:
    beats = {
        "p-host-1": NOW - timedelta(seconds=2),
        "p-host-2": NOW - timedelta(seconds=15),  # exactly 3 x 5 s: still online
        "p-host-3": NOW - timedelta(seconds=15.5),
        "p-host-4": None,  # registered, never beat
        "q-host-5": NOW,  # another pool's naming
        "p-laptop": NOW,
    }
    assert online_from_heartbeats("p", beats, NOW, heartbeat_seconds=5) == [1, 2]
    assert online_from_heartbeats("p", beats, NOW, heartbeat_seconds=10) == [1, 2, 3]


def test_hosts_are_read_from_queue_and_worker_names() -> None:
    assert host_of_queue("host-12") == 12
    assert host_of_queue("default") is None and host_of_queue(None) is None
    assert host_of_worker("news-pool", "news-pool-host-2") == 2
    assert host_of_worker("news-pool", "other-host-2") is None
