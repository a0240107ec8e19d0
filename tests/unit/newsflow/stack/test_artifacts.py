"""Fetching: jars are fetched once per pom, and unzipping keeps the executable bits."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from newsflow.stack import artifacts
from newsflow.stack.paths import STACK_FILES, Paths


def test_jars_already_fetched_for_this_pom_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "find_java_home", lambda service: Path("/jdk"))
    monkeypatch.setattr(artifacts, "run_mvn", lambda *a, **kw: pytest.fail("mvn was run"))
    libs = tmp_path / "kafka" / "libs"
    libs.mkdir(parents=True)
    pom = (STACK_FILES / "kafka" / "pom.xml").read_bytes()
    (libs / ".pom.sha256").write_text(hashlib.sha256(pom).hexdigest())
    artifacts.fetch_jars("kafka", Paths(tmp_path, tmp_path))


def test_a_changed_pom_fetches_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "find_java_home", lambda service: Path("/jdk"))
    fetched: list[str] = []

    def fake_mvn(args: list[str], what: str, **kw: object) -> None:
        out = Path(next(a for a in args if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
        out.mkdir(parents=True)
        (out / "new.jar").write_text("")
        fetched.append(what)

    monkeypatch.setattr(artifacts, "run_mvn", fake_mvn)
    libs = tmp_path / "corenlp" / "libs"
    libs.mkdir(parents=True)
    (libs / "old.jar").write_text("")
    (libs / ".pom.sha256").write_text("another pom")
    artifacts.fetch_jars("corenlp", Paths(tmp_path, tmp_path))
    assert fetched == ["corenlp: fetching jars"]
    assert sorted(p.name for p in libs.iterdir()) == [".pom.sha256", "new.jar"]


def test_unzip_keeps_the_executable_bits(tmp_path: Path) -> None:
    zip_path = tmp_path / "dist.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        info = zipfile.ZipInfo("dist/bin/run")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("dist/README", "text")
    artifacts.unzip(zip_path, tmp_path / "out")
    assert (tmp_path / "out" / "dist" / "bin" / "run").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "dist" / "README").read_text() == "text"
