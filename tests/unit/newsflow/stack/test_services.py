"""The table of the local stack's services: complete, in a fixed order, each endpoint read
from its own setting; a stopped service is reported down at once; the one starter launches
what the table says."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from newsflow import stack
from newsflow.config import Settings
from newsflow.stack import cluster, services
from newsflow.stack.cluster import Instance
from newsflow.stack.commands import Command
from newsflow.stack.endpoints import Endpoint
from newsflow.stack.paths import Paths

NOTHING_LISTENS = {"kafka_bootstrap": "127.0.0.1:1", "es_url": "http://127.0.0.1:1",
                   "prefect_api_url": "http://127.0.0.1:1/api",
                   "corenlp_url": "http://127.0.0.1:1"}


def test_the_table_lists_every_service_once_in_status_order() -> None:
    assert services.SERVICES == ("kafka", "elasticsearch", "prefect", "corenlp")
    assert stack.SERVICES == services.SERVICES
    assert sorted(services.START_ORDER) == sorted(services.SERVICES)
    assert services.START_ORDER[0] == "elasticsearch"  # slowest to boot: started first
    for name, spec in services.TABLE.items():
        assert spec.name == name
        assert spec.setting in Settings.model_fields


def test_each_endpoint_comes_from_its_own_setting() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:19092", es_url="http://127.0.0.1:19200",
                        prefect_api_url="http://127.0.0.1:14200/api",
                        corenlp_url="http://127.0.0.1:19000")
    assert {s: services.endpoint(settings, s).port for s in services.SERVICES} == {
        "kafka": 19092, "elasticsearch": 19200, "prefect": 14200, "corenlp": 19000}
    assert services.display(settings, "prefect") == "http://127.0.0.1:14200/api"


def test_unknown_services_are_refused_and_known_ones_ordered() -> None:
    assert services.check(["corenlp", "kafka", "kafka"]) == ["kafka", "corenlp"]
    with pytest.raises(stack.StackError, match=r"unknown service\(s\) \['zookeeper'\]"):
        services.check(["kafka", "zookeeper"])


def test_a_stopped_stack_is_reported_down_at_once(tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path, **NOTHING_LISTENS)  # type: ignore[arg-type]
    started = time.monotonic()
    statuses = stack.status(settings)
    assert time.monotonic() - started < 5
    assert [(s.name, s.healthy, s.pid, s.detail) for s in statuses] == [
        (name, False, None, "down") for name in services.SERVICES]
    assert statuses[0].endpoint == "127.0.0.1:1"
    assert statuses[0].log == tmp_path.resolve() / "logs" / "kafka.log"


def test_the_starter_launches_the_services_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: dict[str, object] = {}

    def command(inst: Instance, ep: Endpoint) -> Command:
        return Command(["serve", ep.host, str(ep.port)], cwd=inst.paths.root, env={"X": "1"})

    def fake_start(name: str, argv: list[str], **kw: object) -> int:
        launched.update(name=name, argv=argv, **kw)
        return 42

    monkeypatch.setitem(services.TABLE, "corenlp",
                        dataclasses.replace(services.TABLE["corenlp"], command=command))
    monkeypatch.setattr(services.processes, "start", fake_start)
    settings = Settings(stack_dir=tmp_path, corenlp_url="http://localhost:9123")
    paths = Paths.of(settings)

    [inst] = cluster.instances(settings, 1, ("corenlp",))
    assert services.start(inst) == 42
    assert launched == {"name": "corenlp", "argv": ["serve", "127.0.0.1", "9123"],
                        "run_dir": paths.run, "log_path": paths.log("corenlp"),
                        "env": {"X": "1"}, "cwd": paths.root}
