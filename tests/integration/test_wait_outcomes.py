"""``publish --wait`` and ``backfill --wait`` through the real CLI and pipeline: the wait ends
when every article has an outcome (indexed, skipped or dead-lettered), prints the three
counts and exits 0; at its timeout it names the articles that have none and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.articles import article_id

from .conftest import REPO, Pipeline

pytestmark = pytest.mark.integration

TEXT = (
    "Dock workers in Hamburg returned to work on Saturday after a three-day strike that halted "
    "container traffic at Germany's largest port. The union said it had reached an agreement "
    "with the port operators on wages and shift patterns, and members would vote next week."
)


def batch(tmp_path: Path) -> tuple[Path, list[str]]:
    """A JSONL file of 4 good articles, 3 to be skipped and 3 to be dead-lettered."""
    good = [{"url": f"https://example.org/wait/{i}", "title": f"Strike ends {i}",
             "text": f"Report {i}. {TEXT}"} for i in range(4)]
    skipped = [{"url": "https://example.org/wait/brief-1", "text": "Strike ends."},
               {"url": "https://example.org/wait/brief-2", "text": "Port reopens."},
               {"url": "https://example.org/wait/noise",
                "text": bytes(range(256)).decode("latin-1") * 20}]
    dead = [json.dumps({"url": "javascript:alert(1)", "text": TEXT}),
            json.dumps({"title": "no url at all", "text": TEXT}),
            "{not json"]
    lines = [*(json.dumps(r) for r in good + skipped), *dead]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, [g["url"] for g in good]


def newsflow(pipeline: Pipeline, *args: str, timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsflow", *args], env=pipeline.env(),
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def test_publish_and_backfill_wait_for_every_outcome(pipeline: Pipeline, tmp_path: Path):
    pipeline.settings = pipeline.settings.model_copy(update={"entities_enabled": False})
    pipeline.start()
    path, _ = batch(tmp_path)

    published = newsflow(pipeline, "publish", str(path), "--wait", "--timeout", "240")
    assert published.returncode == 0, published.stdout + published.stderr
    assert "10 articles: indexed 4, skipped 3, dead-lettered 3" in published.stdout

    # The same file again as a backfill: the outcomes counted are this run's own (the
    # documents are indexed anew, the skips and dead letters written again).
    backfilled = newsflow(pipeline, "backfill", str(path), "--wait", "--timeout", "240",
                          "--rate", "0", "--checkpoint", str(tmp_path / "checkpoint.json"))
    assert backfilled.returncode == 0, backfilled.stdout + backfilled.stderr
    assert "10 articles: indexed 4, skipped 3, dead-lettered 3" in backfilled.stdout


def test_wait_names_the_articles_without_an_outcome(pipeline: Pipeline, tmp_path: Path):
    # Only the clean stage runs: skips and dead letters happen, nothing is ever indexed.
    pipeline.start_worker("clean")
    path, good_urls = batch(tmp_path)
    result = newsflow(pipeline, "publish", str(path), "--no-prefect", "--wait",
                      "--timeout", "30")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "10 articles: indexed 0, skipped 3, dead-lettered 3" in result.stdout
    assert "4 of 10 articles have no outcome after 30s" in result.stderr
    for url in good_urls:
        assert f"{article_id(url)}  {url}" in result.stderr
    assert "Traceback" not in result.stderr
