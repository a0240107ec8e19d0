"""Security properties read from the source tree: no unsafe deserialisation on the data path,
pinned and checked artifacts (Maven, the Elasticsearch zip, the Python lock file)."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from newsflow import stack
from newsflow.stack import artifacts, pins

REPO = Path(__file__).resolve().parents[3]
DATA_PATH_PACKAGES = ("newsflow", "workers", "schemas", "flows")

# Modules that turn bytes into code or arbitrary objects.
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                  "jsonpickle"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
UNSAFE_ATTRIBUTES = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
                     ("joblib", "load"), ("torch", "load"), ("numpy", "load"), ("np", "load")}


def _python_files() -> list[Path]:
    files = [p for pkg in DATA_PATH_PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]
    assert len(files) > 20, "the source tree was not found"
    return files


def _unsafe_uses(path: Path) -> list[str]:
    """Imports and calls of the unsafe names in one file (by syntax tree: docstrings and
    comments that merely mention them do not count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names
                      if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                UNSAFE_MODULES):
            found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
                found.append(f"{where} {func.id}(...)")
            elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                  and (func.value.id, func.attr) in UNSAFE_ATTRIBUTES):
                found.append(f"{where} {func.value.id}.{func.attr}(...)")
            for kw in node.keywords:  # subprocess(..., shell=True): a command line from data
                if kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value:
                    found.append(f"{where} shell=True")
    return found


def test_no_pickle_eval_or_exec_on_the_data_path() -> None:
    found = [use for path in _python_files() for use in _unsafe_uses(path)]
    assert found == []


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import pickle\nimport yaml\nx = eval('1')\ny = yaml.load(s)\n"
                      "import subprocess\nsubprocess.run('ls', shell=True)\n")
    uses = [u.split(" ", 1)[1] for u in _unsafe_uses_any(sample)]
    assert uses == ["import pickle", "eval(...)", "yaml.load(...)", "shell=True"]


def _unsafe_uses_any(path: Path) -> list[str]:
    # _unsafe_uses reports paths relative to the repository; a temporary file is not under it.
    text = path.read_text()
    target = REPO / ".pytest-scan-sample.py"
    try:
        target.write_text(text)
        return sorted(_unsafe_uses(target), key=lambda u: int(u.split(":")[1].split()[0]))
    finally:
        target.unlink(missing_ok=True)


# --- supply chain ---------------------------------------------------------------------------

_EXACT_VERSION = re.compile(r"^\d+(\.\d+)*$")
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def test_maven_dependencies_are_pinned_to_exact_versions() -> None:
    pom = ET.parse(REPO / "stack" / "kafka" / "pom.xml").getroot()
    properties = {el.tag.split("}")[1]: (el.text or "").strip()
                  for el in pom.find("m:properties", _POM_NS) or []}
    deps = pom.findall("m:dependencies/m:dependency", _POM_NS)
    assert len(deps) >= 2
    for dep in deps:
        version = (dep.findtext("m:version", default="", namespaces=_POM_NS) or "").strip()
        if m := re.fullmatch(r"\$\{([\w.]+)\}", version):
            version = properties.get(m.group(1), "")
        artifact = dep.findtext("m:artifactId", namespaces=_POM_NS)
        # No ranges ([1.0,2.0)), no LATEST/RELEASE, no SNAPSHOT: one exact release.
        assert _EXACT_VERSION.match(version), f"{artifact}: version {version!r} is not pinned"


def test_maven_runs_with_strict_checksums_and_a_pinned_plugin() -> None:
    source = (REPO / "newsflow" / "stack" / "artifacts.py").read_text()
    assert '"-C" if strict_checksums else "-c"' in source
    assert "strict_checksums: bool = True" in source
    version = pins.DEPENDENCY_PLUGIN.split(":")[-1]
    assert _EXACT_VERSION.match(version)


def test_the_elasticsearch_zip_has_a_pinned_sha256() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", pins.ES_SHA256)
    assert _EXACT_VERSION.match(pins.ES_VERSION)


def test_the_elasticsearch_zip_is_refused_when_its_digest_differs(tmp_path: Path) -> None:
    fake = tmp_path / f"elasticsearch-{pins.ES_VERSION}.zip"
    fake.write_bytes(b"not the pinned zip")
    with pytest.raises(stack.StackError, match="refusing to run it"):
        artifacts.verify_sha256(fake)


def test_python_lock_file_pins_every_package_with_hashes() -> None:
    lock = (REPO / "requirements.lock").read_text()
    # One requirement per logical line (continuations joined), comments dropped.
    logical = re.sub(r"\\\n\s*", " ", lock)
    requirements = [line.strip() for line in logical.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    assert len(requirements) > 50
    names = set()
    for req in requirements:
        spec = req.split()[0]
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", spec), f"not pinned: {spec}"
        assert "--hash=sha256:" in req, f"no hash: {spec}"
        names.add(spec.split("==")[0].lower().replace("_", "-"))
    for direct in ("prefect", "kafka-python", "elasticsearch", "pydantic", "trafilatura",
                   "pytest", "pip-audit"):
        assert direct in names, f"{direct} missing from requirements.lock"


def test_the_lock_covers_every_dependency_in_pyproject() -> None:
    """A dependency added to pyproject.toml must be locked too (`make lock`): `make install`
    installs the lock, then the project with --no-deps."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = (REPO / "requirements.lock").read_text().lower().replace("_", "-")
    locked = set(re.findall(r"^([a-z0-9.\-]+)==", lock, re.M))
    missing = []
    for req in wanted:
        name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")
        if name not in locked:
            missing.append(name)
    assert missing == [], f"not in requirements.lock (run `make lock`): {missing}"
