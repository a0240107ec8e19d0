"""``python -m newsflow.kibana`` (compose's kibana-setup): its command line, and a Kibana that
is not there being an error exit, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow import kibana

KIBANA_DIR = Path(__file__).resolve().parents[3] / "kibana"


def test_an_unreachable_kibana_is_exit_code_1() -> None:
    result = CliRunner().invoke(kibana.app, ["--kibana-url", "http://127.0.0.1:1", "--wait",
                                             "0", str(KIBANA_DIR)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_url_comes_from_kibana_url_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_load(url: str, directory: Path, **kw: object) -> dict[str, object]:
        seen.update(url=url, directory=directory, **kw)
        return {"success": True, "successCount": 3}

    monkeypatch.setattr(kibana, "load", fake_load)
    result = CliRunner().invoke(kibana.app, ["/kibana"], env={"KIBANA_URL": "http://kibana:5601"})
    assert result.exit_code == 0, result.output
    assert seen["url"] == "http://kibana:5601"
    assert seen["directory"] == Path("/kibana")
    assert seen["wait"] == 300
