"""The ``newsflow`` app: every command is there with its help, and the callback points
Prefect at the server we were given (ours only by default)."""

from __future__ import annotations

import logging
import os

import pytest
from typer.testing import CliRunner

from newsflow import cli
from newsflow.config import Settings

COMMANDS = ["worker", "publish", "search", "story", "rollover", "audit", "deploy", "backfill",
            "reindex", "reenrich", "stack", "workers", "dlq", "stories"]
SUBCOMMANDS = {"stack": ["up", "down", "clean", "status", "init"], "workers": ["start", "stop"],
               "dlq": ["list", "replay"], "stories": ["similarity"]}



def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == COMMANDS


@pytest.mark.parametrize("args", [[c] for c in COMMANDS if c not in SUBCOMMANDS]
                         + [[g, c] for g, cs in SUBCOMMANDS.items() for c in cs])
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*args, "--help"], prog_name="newsflow")
    assert result.exit_code == 0, result.output
    assert f"Usage: newsflow {' '.join(args)}" in " ".join(result.output.split())


def test_a_prefect_server_given_to_us_wins_over_prefects_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")
    cli.configure_process(Settings(prefect_api_url="http://127.0.0.1:14200/api"))
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:14200/api"


def test_our_default_prefect_server_only_fills_in_an_unset_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NEWSFLOW_PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")
    cli.configure_process(Settings())
    assert os.environ["PREFECT_API_URL"] == "http://elsewhere:4200/api"
    monkeypatch.delenv("PREFECT_API_URL")
    cli.configure_process(Settings())
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"


def test_the_callback_sets_up_logging_at_the_level_asked() -> None:
    cli.configure_process(Settings(log_level="WARNING"))
    assert logging.getLogger().level == logging.WARNING
