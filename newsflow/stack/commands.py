"""How each service of the local stack is run: its command line, environment and folder.

In: the settings, the stack's paths and the loopback endpoint to listen on. Out: a
:class:`Command` for :func:`newsflow.stack.services.start` to launch in the background, after
the preparation the service needs (Kafka's storage formatted once, Elasticsearch's config
rendered and, as root, its folders given to uid :data:`ES_UID`). Nothing here waits for a
service to be healthy.

    kafka          one KRaft node, broker and controller: ``kafka.Kafka`` on a plain classpath
    elasticsearch  ``bin/elasticsearch`` of the Maven Central "integ-test-zip", in the foreground
    prefect        ``prefect server start`` from this virtualenv, SQLite database
    corenlp        our loopback NER server ``stack/corenlp/NerServer.java``, run from source
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from newsflow.stack.artifacts import prefect_bin
from newsflow.stack.cluster import Instance
from newsflow.stack.endpoints import Endpoint
from newsflow.stack.errors import StackError
from newsflow.stack.java import find_java_home
from newsflow.stack.paths import STACK_FILES, Paths
from newsflow.stack.pins import CORENLP_MODELS_ARG, OUR_NER_MODELS
from workers.settings import env_var

log = logging.getLogger(__name__)

ES_UID = 65534  # "nobody"/"nogroup" on Debian; Elasticsearch exits if started as root


@dataclass(frozen=True)
class Command:
    argv: list[str]
    cwd: Path
    env: Mapping[str, str] | None = None  # None: this process's environment


def render(template: Path, dest: Path, **values: object) -> None:
    """Fill a template of ``stack/`` (``string.Template`` placeholders) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(Template(template.read_text()).substitute(values))


def _quorum(inst: Instance, ep: Endpoint) -> dict[str, object]:
    """The template values that differ between one broker and a cluster of brokers."""
    if len(inst.peers) == 1:
        return {"node_id": 1,
                "quorum": f"controller.quorum.bootstrap.servers={ep.url_host}:{ep.port + 1}",
                "internal_rf": 1, "internal_min_isr": 1}
    # A static quorum: every broker is also a voter, each known by id and controller port.
    voters = ",".join(f"{h.n}@{h.kafka.url_host}:{h.controller_port}" for h in inst.peers)
    rf = min(3, len(inst.peers))
    return {"node_id": inst.host.n, "quorum": f"controller.quorum.voters={voters}",
            "internal_rf": rf, "internal_min_isr": min(2, rf)}


def kafka(inst: Instance, ep: Endpoint) -> Command:
    settings, paths = inst.settings, inst.paths
    java = find_java_home("kafka") / "bin" / "java"
    config = paths.kafka_node / "server.properties"
    data = paths.kafka_node / "data"
    # The controller listener takes the next port (9093 for 9092): one setting to change.
    render(STACK_FILES / "kafka" / "server.properties", config, host=ep.url_host, port=ep.port,
           controller_port=ep.port + 1, log_dirs=data, **_quorum(inst, ep))
    classpath = ["-cp", str(paths.kafka / "libs" / "*")]  # the JVM expands the "*" itself
    log4j = f"-Dlog4j2.configurationFile={STACK_FILES / 'kafka' / 'log4j2.properties'}"

    # KRaft storage must be formatted once, with a cluster id, before the first start.
    # Formatting again would wipe the metadata log: meta.properties says it was done.
    if not (data / "meta.properties").is_file():
        id_file = paths.kafka_cluster_id
        if not id_file.is_file():
            # Kafka's Uuid format: 16 random bytes, base64url, no padding.
            id_file.parent.mkdir(parents=True, exist_ok=True)
            id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        cluster_id = id_file.read_text().strip()
        log.info("kafka: formatting storage in %s (cluster id %s)", data, cluster_id)
        # One broker: a standalone (dynamic) quorum; a cluster: the static voters of the config.
        standalone = ["--standalone"] if len(inst.peers) == 1 else []
        cmd = [str(java), "-Xmx256m", log4j, *classpath, "kafka.tools.StorageTool", "format",
               *standalone, "-t", cluster_id, "-c", str(config)]
        fmt = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        paths.logs.mkdir(parents=True, exist_ok=True)
        with open(paths.log(inst.name), "a") as out:
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
    return Command(argv, cwd=paths.kafka_node)


def _chown_tree(path: Path, uid: int) -> None:
    if path.stat().st_uid == uid:  # what ES itself creates is already owned by it: skip the walk
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(Path(root) / name, uid, uid)
    os.lchown(path, uid, uid)


def as_es_user(paths: Paths, java_home: Path) -> list[str]:
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
    for folder in (paths.es_conf, paths.es_node / "data", paths.es_node / "tmp", paths.es_logs,
                   paths.es_snapshots):
        _chown_tree(folder, ES_UID)
    prefix = [setpriv, f"--reuid={ES_UID}", f"--regid={ES_UID}", "--clear-groups"]
    # uid 65534 must be able to walk down to stack_dir; not so if it is under /root, say.
    probe = ["test", "-r", str(paths.es_home / "bin" / "elasticsearch"),
             "-a", "-w", str(paths.es_node / "data"), "-a", "-x", str(java_home / "bin" / "java")]
    if subprocess.run(prefix + probe, check=False).returncode != 0:
        raise StackError(
            f"elasticsearch runs as uid {ES_UID} (it refuses root), which cannot reach "
            f"{paths.root} or {java_home}: a parent folder is closed to other users. "
            f"Set {env_var('stack_dir')} to a folder under one everyone can enter "
            "(e.g. /var/tmp/newsflow-stack), or `chmod o+x` the parent folders."
        )
    return prefix


def _discovery(inst: Instance, ep: Endpoint) -> str:
    """elasticsearch.yml's lines on finding the other nodes: none for one node."""
    if len(inst.peers) == 1:
        return "discovery.type: single-node"
    seeds = ", ".join(f'"{h.es.url_host}:{h.transport_port}"' for h in inst.peers)
    masters = ", ".join(f'"newsflow-{h.n}"' for h in inst.peers)
    return "\n".join([
        f"transport.port: {inst.host.transport_port}",
        f"discovery.seed_hosts: [{seeds}]",
        # Only read when the cluster forms for the first time; every node is master-eligible.
        f"cluster.initial_master_nodes: [{masters}]",
    ])


def elasticsearch(inst: Instance, ep: Endpoint) -> Command:
    settings, paths = inst.settings, inst.paths
    java_home = find_java_home("elasticsearch")
    # Our own ES_PATH_CONF outside the distribution (ES writes its keystore there): the
    # distribution's files (jvm.options, log4j2.properties, ...) refreshed on every start so they
    # follow an ES_VERSION bump, then elasticsearch.yml rendered from our template.
    shutil.copytree(paths.es_home / "config", paths.es_conf, dirs_exist_ok=True)
    for folder in (paths.es_node / "data", paths.es_node / "tmp", paths.es_logs,
                   paths.es_snapshots):
        folder.mkdir(parents=True, exist_ok=True)
    render(STACK_FILES / "elasticsearch" / "elasticsearch.yml",
           paths.es_conf / "elasticsearch.yml", host=ep.host, port=ep.port,
           node_name=f"newsflow-{inst.host.n}", discovery=_discovery(inst, ep),
           data=paths.es_node / "data", logs=paths.es_logs, snapshots=paths.es_snapshots)
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java_home),  # the zip has no bundled JDK
        "ES_PATH_CONF": str(paths.es_conf),
        "ES_TMPDIR": str(paths.es_node / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
    }
    argv = [*as_es_user(paths, java_home), str(paths.es_home / "bin" / "elasticsearch")]
    # cwd = the log folder: the distribution's jvm.options writes gc.log relative to it.
    return Command(argv, cwd=paths.es_logs, env=env)


def prefect(inst: Instance, ep: Endpoint) -> Command:
    settings, paths = inst.settings, inst.paths
    paths.prefect.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(paths.prefect),  # its SQLite database and UI build go here
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no calls home (and no internet anyway)
        # Flow-run history does not grow for ever: Prefect's own vacuum service deletes runs
        # that ended more than the retention ago (and old events, as by default).
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(
            settings.prefect_run_retention_days * 86_400),
    }
    argv = [str(prefect_bin()), "server", "start", "--host", ep.host, "--port", str(ep.port)]
    return Command(argv, cwd=paths.prefect, env=env)


def corenlp(inst: Instance, ep: Endpoint) -> Command:
    settings, paths = inst.settings, inst.paths
    java = find_java_home("corenlp") / "bin" / "java"
    argv = [
        str(java),
        f"-Xmx{settings.corenlp_heap}",
        "-cp",
        # CoreNLP's jars, and the folder of our own models (found there by their names).
        os.pathsep.join([str(paths.corenlp / "libs" / "*"),
                         str(STACK_FILES.parent / OUR_NER_MODELS)]),
        str(STACK_FILES / "corenlp" / "NerServer.java"),  # our loopback server, run from source
        ep.host,
        str(ep.port),
        CORENLP_MODELS_ARG,
        "4",  # threads: requests from every entities replica on the host
    ]
    return Command(argv, cwd=paths.corenlp)
