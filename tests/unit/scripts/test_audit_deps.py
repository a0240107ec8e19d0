"""scripts/audit_deps.py: accepted vulnerabilities need a written reason; the rest fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("audit_deps", REPO / "scripts" / "audit_deps.py")
assert _spec is not None and _spec.loader is not None
audit_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_deps)


def test_exceptions_with_reasons_are_read(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.txt"
    path.write_text("# comment\n\nGHSA-aaaa-bbbb-cccc  # only affects the Windows launcher; "
                    "we ship Linux only (reviewed)\nPYSEC-2024-1 # no fix yet, input is trusted\n")
    assert audit_deps.read_exceptions(path) == {
        "GHSA-aaaa-bbbb-cccc": "only affects the Windows launcher; we ship Linux only (reviewed)",
        "PYSEC-2024-1": "no fix yet, input is trusted"}


@pytest.mark.parametrize("line", ["GHSA-aaaa-bbbb-cccc", "GHSA-aaaa-bbbb-cccc  #", "GHSA-x # ok"])
def test_an_exception_without_a_written_reason_is_refused(tmp_path: Path, line: str) -> None:
    path = tmp_path / "exceptions.txt"
    path.write_text(line + "\n")
    with pytest.raises(audit_deps.ExceptionsError, match="written reason"):
        audit_deps.read_exceptions(path)
    assert audit_deps.main(["--exceptions", str(path)]) == 2


def test_the_audit_runs_on_the_hashed_lock_ignoring_only_accepted_ids(tmp_path: Path) -> None:
    cmd = audit_deps.command(REPO / "requirements.lock", {"GHSA-1": "reason given here"},
                             tmp_path / "r.json")
    assert cmd[0].endswith("pip-audit")
    assert "--require-hashes" in cmd and "--disable-pip" in cmd
    assert cmd[cmd.index("--ignore-vuln") + 1] == "GHSA-1"
    assert cmd.count("--ignore-vuln") == 1


_OK = {"name": "httpx", "version": "0.28.1", "vulns": []}
_VULN = {"name": "old", "version": "1.0", "vulns": [
    {"id": "GHSA-aaaa", "fix_versions": ["1.1"], "description": "remote code execution"}]}
_SKIP = {"name": "gone", "skip_reason": "Dependency not found on PyPI: gone (1.0)"}


@pytest.mark.parametrize(("deps", "allow", "code", "says"), [
    ([_OK], False, 0, "no known vulnerabilities"),
    ([_OK, _VULN], True, 1, "GHSA-aaaa"),  # never allowed
    ([_OK, _SKIP], True, 1, "1 of 2 packages could not be checked"),  # partial: fails
    ([_SKIP, _SKIP], False, 1, "AUDIT NOT DONE"),
    ([_SKIP, _SKIP], True, 0, "AUDIT NOT DONE"),  # said loudly, but does not fail make test
])
def test_verdict(deps: list[dict], allow: bool, code: int, says: str) -> None:
    got, lines = audit_deps.verdict({"dependencies": deps}, allow)
    assert got == code
    assert says in "\n".join(lines)


def test_the_repository_exceptions_file_is_valid() -> None:
    for reason in audit_deps.read_exceptions(REPO / "pip-audit-exceptions.txt").values():
        assert len(reason) >= 10
