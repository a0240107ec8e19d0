"""`newsflow stack` commands that need no running service: refusing what cannot be done."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow import cli
from newsflow.config import Settings
from newsflow.stack import cluster


def test_kill_host_refuses_a_host_the_stack_does_not_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_STACK_DIR", str(tmp_path))
    result = CliRunner().invoke(cli.app, ["stack", "kill-host", "2"])
    assert result.exit_code == 1
    assert "the local stack has 1 host(s): there is no host 2" in result.output


def test_commands_talk_to_every_host_of_a_recorded_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_STACK_DIR", str(tmp_path))
    cluster.record(Settings(stack_dir=tmp_path), 3)
    settings = cli.local_cluster(cli.load_settings())
    assert settings.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert len(settings.es_hosts) == 3
    # Endpoints given explicitly win over the recorded cluster.
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    assert cli.local_cluster(cli.load_settings()).kafka_bootstrap == "127.0.0.1:19092"
