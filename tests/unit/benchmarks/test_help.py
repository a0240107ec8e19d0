"""Every option of every benchmark and evaluation script says what it is in ``--help``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if "add_argument" in p.read_text())


def _options_without_help(path: Path) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and not any(k.arg == "help" for k in node.keywords)
        ):
            missing.append(ast.literal_eval(node.args[0]) if node.args else "?")
    return missing


def test_there_are_scripts_to_check() -> None:
    assert {"throughput.py", "eval_dedup.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_option_has_help(path: Path) -> None:
    assert _options_without_help(path) == []
