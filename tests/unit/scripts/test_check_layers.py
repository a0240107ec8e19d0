"""The layer check bites: an upward import anywhere in a module fails it, a downward one not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
assert spec and spec.loader
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_project_has_no_upward_import() -> None:
    assert check_layers.offences(ROOT) == []


def test_upward_imports_are_found_even_inside_functions(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "schemas/a.py": "import json\n",
        "workers/ok.py": "from schemas.a import x\nfrom workers import y\n",
        "workers/bad.py": "def f():\n    from newsflow.config import Settings\n",
        "flows/bad.py": "import newsflow.cli\nfrom workers.ok import y\n",
        "schemas/bad.py": "from workers.stage import Emit\n",
        "newsflow/cli.py": "from flows import x\nfrom schemas import y\n",
    })
    assert check_layers.offences(root) == [
        "schemas/bad.py:1: schemas imports workers",
        "workers/bad.py:2: workers imports newsflow",
        "flows/bad.py:1: flows imports newsflow",
    ]
