"""``newsflow stories similarity``: every pair written back scored, bad lines named, none lost."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from newsflow import cli
from tests.unit.workers.stories.samples import OTHER, PORT, PORT_REWRITE


def pair(id_: str, a: tuple[str, str], b: tuple[str, str], **extra: object) -> str:
    return json.dumps({"id": id_, "title_1": a[0], "text_1": a[1], "title_2": b[0],
                       "text_2": b[1], **extra})


def test_pairs_are_written_back_with_similarity_and_same_story(tmp_path: Path) -> None:
    source, target = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join([
        pair("same", PORT, PORT_REWRITE, lang_1="en", lang_2="en", overall=1.0),
        pair("apart", PORT, OTHER),
    ]) + "\n")
    result = CliRunner().invoke(cli.app, ["stories", "similarity", "-i", str(source),
                                          "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["same", "apart"]
    assert rows[0]["same_story"] is True and rows[1]["same_story"] is False
    assert rows[0]["similarity"] > rows[1]["similarity"]
    assert rows[0]["overall"] == 1.0  # fields we do not know are kept


def test_a_bad_line_is_named_and_the_others_still_scored(tmp_path: Path) -> None:
    source, target = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join([
        pair("1", PORT, OTHER), "{not json", json.dumps({"id": "3", "title_1": "x"}),
        pair("4", PORT, PORT_REWRITE),
    ]) + "\n")
    result = CliRunner().invoke(cli.app, ["stories", "similarity", "-i", str(source),
                                          "-o", str(target)])
    assert result.exit_code == 1
    assert "line 2: not a pair" in result.output
    assert "line 3: not a pair: text_1" in result.output
    assert "2 lines rejected" in result.output
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == ["1", "4"]
