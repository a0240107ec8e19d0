"""benchmarks/entities_memory.py: a corpus it cannot read is a one-line usage error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "entities_memory.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120)


def test_a_line_that_is_not_json_names_its_file_and_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"body": "Fine."}\nnot json\n', encoding="utf-8")
    run = _run(str(corpus), "--zones", "on")
    assert run.returncode == 2
    assert f"{corpus}, line 2: not JSON" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_corpus_or_no_passes_is_refused(tmp_path: Path) -> None:
    missing = _run(str(tmp_path / "nothing.jsonl"))
    assert missing.returncode == 2 and "no corpus file" in missing.stderr
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"body": "Fine."}\n', encoding="utf-8")
    none = _run(str(corpus), "--passes", "0")
    assert none.returncode == 2 and "at least 1" in none.stderr
