"""Check requirements.lock for known vulnerabilities with pip-audit (``make audit-deps``).

Fails (exit 1) on any known vulnerability of a locked package, unless it is listed in
``pip-audit-exceptions.txt`` with a written reason::

    GHSA-xxxx-xxxx-xxxx  # why it does not apply here / until when; who accepted it

A listed id without a reason is refused, so an exception is always a decision on record.
pip-audit asks PyPI's JSON API (the vulnerability data PyPI publishes per release), one query
per locked package; the lock has hashes, so pip-audit needs no resolver and no virtualenv.

A package pip-audit could not check is not a pass: the audit fails when some packages were
checked and others not. When none could be checked (the vulnerability service is unreachable,
as on machines that reach only a package index mirror), it fails too, unless
``--allow-unreachable`` is given (``make test`` gives it): then it says loudly, on every run,
that the audit was NOT done, and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]*)\s*#\s*(?P<reason>\S.*)$")


class ExceptionsError(ValueError):
    """The exceptions file has an entry without a reason, or one that is not an id."""


def read_exceptions(path: Path) -> dict[str, str]:
    """Vulnerability id -> the written reason it is accepted."""
    accepted: dict[str, str] = {}
    if not path.is_file():
        return accepted
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None or len(match["reason"].strip()) < 10:
            raise ExceptionsError(f"{path.name}:{n}: '{line}' needs an id and a written reason "
                                  "after '#' (at least a sentence)")
        accepted[match["id"]] = match["reason"].strip()
    return accepted


def command(lock: Path, accepted: dict[str, str], report: Path) -> list[str]:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    cmd = [str(pip_audit), "--requirement", str(lock), "--require-hashes", "--disable-pip",
           "--progress-spinner", "off", "--desc", "on", "--format", "json", "--output",
           str(report)]
    for vuln_id in sorted(accepted):
        cmd += ["--ignore-vuln", vuln_id]
    return cmd


def verdict(report: dict[str, Any], allow_unreachable: bool) -> tuple[int, list[str]]:
    """(exit code, lines to print) from pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    lines = [f"{d['name']} {d['version']}: {v['id']} (fixed in "
             f"{', '.join(v.get('fix_versions') or ['-'])}) {v.get('description', '')[:200]}"
             for d in vulnerable for v in d["vulns"]]
    if vulnerable:
        return 1, [*lines, f"audit-deps: FAILED: {len(lines)} known vulnerabilities; upgrade, "
                   "or accept one with a reason in pip-audit-exceptions.txt"]
    if skipped and len(skipped) == len(deps):
        message = (f"audit-deps: AUDIT NOT DONE: none of the {len(deps)} locked packages could "
                   f"be checked ({skipped[0]['skip_reason']}): the vulnerability service is not "
                   "reachable from this machine. Run `make audit-deps` where PyPI's JSON API is.")
        return (0 if allow_unreachable else 1), [message]
    if skipped:
        return 1, [f"{d['name']}: {d['skip_reason']}" for d in skipped] + [
            f"audit-deps: FAILED: {len(skipped)} of {len(deps)} packages could not be checked"]
    return 0, [f"audit-deps: {len(deps)} packages checked, no known vulnerabilities"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lock", type=Path, default=REPO / "requirements.lock")
    parser.add_argument("--exceptions", type=Path, default=REPO / "pip-audit-exceptions.txt")
    parser.add_argument("--allow-unreachable", action="store_true",
                        help="exit 0 (with a warning) when no package could be checked at all")
    args = parser.parse_args(argv)
    try:
        accepted = read_exceptions(args.exceptions)
    except ExceptionsError as exc:
        print(f"audit-deps: {exc}", file=sys.stderr)
        return 2
    for vuln_id, reason in accepted.items():
        print(f"audit-deps: accepted exception {vuln_id}: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        done = subprocess.run(command(args.lock, accepted, report_path), check=False)
        if not report_path.is_file():
            print(f"audit-deps: pip-audit failed (exit {done.returncode}) without a report",
                  file=sys.stderr)
            return done.returncode or 1
        code, lines = verdict(json.loads(report_path.read_text()), args.allow_unreachable)
    for line in lines:
        print(line, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
