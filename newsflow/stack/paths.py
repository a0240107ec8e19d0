"""Where the local stack's files live: everything under ``settings.stack_dir`` (default
``.stack``, git-ignored)::

    <stack_dir>/
      run/<service>.pid             pid files (newsflow.stack.processes)
      logs/<service>.log            each service's stdout+stderr: look here first
      logs/elasticsearch/           Elasticsearch's own log files (json, gc.log, ...)
      kafka/libs/                   jars copied by Maven (+ .pom.sha256, the pom they came from)
      kafka/server.properties       rendered from stack/kafka/server.properties on every start
      kafka/cluster.id              made once; the storage is formatted with it once
      kafka/data/                   topics and the KRaft metadata log
      elasticsearch/elasticsearch-<version>/   the unzipped distribution (read only)
      elasticsearch/config/         ES_PATH_CONF: the distribution's config + our elasticsearch.yml
      elasticsearch/data/  elasticsearch/tmp/
      elasticsearch/snapshots/      path.repo: file-system snapshot repositories
      prefect/                      PREFECT_HOME (SQLite database)
      corenlp/libs/                 CoreNLP's two jars, code and models (+ .pom.sha256)
      cluster.json                  the hosts `stack up --nodes N` started (absent for one)
      hosts/host-<n>/kafka/         host n's broker: server.properties and data (a cluster)
      elasticsearch/hosts/host-<n>/ host n's Elasticsearch config, data and tmp (a cluster)

Data survives ``down``/``up``; delete ``<stack_dir>/kafka/data`` or
``<stack_dir>/elasticsearch/data`` (with the stack down) to reset. The templates and Maven poms
are in the repository's ``stack/`` folder (:data:`STACK_FILES`, next to ``newsflow/``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from newsflow.config import Settings
from newsflow.stack.pins import ES_VERSION

STACK_FILES = Path(__file__).resolve().parents[2] / "stack"  # templates and the Maven poms


def _others_can_enter(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents) if p.exists())


@dataclass(frozen=True)
class Paths:
    root: Path
    es_base: Path  # where Elasticsearch's files live: root, unless uid 65534 cannot enter it
    host: int = 0  # a cluster's host n has data folders of its own; 0 = the one-host stack

    @classmethod
    def of(cls, settings: Settings, host: int = 0) -> Paths:
        root = Path(settings.stack_dir).expanduser().resolve()
        es_base = root
        if os.geteuid() == 0 and not _others_can_enter(root):
            # As root, Elasticsearch runs as uid 65534 (see commands.as_es_user), which cannot
            # enter a private folder (a checkout under `mktemp -d`, say): its files go where
            # it can.
            digest = hashlib.sha256(bytes(root)).hexdigest()[:12]
            es_base = Path("/var/tmp") / f"newsflow-{digest}"
        return cls(root, es_base, host)

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
        """Kafka's jars (and the one-host broker's files)."""
        return self.root / "kafka"

    @property
    def kafka_node(self) -> Path:
        """This host's broker: server.properties and data."""
        return self.kafka if not self.host else self.root / "hosts" / f"host-{self.host}" / "kafka"

    @property
    def kafka_cluster_id(self) -> Path:
        """The KRaft cluster id every broker's storage is formatted with (one per cluster)."""
        return self.kafka / "cluster.id" if not self.host else self.root / "hosts" / "cluster.id"

    @property
    def es(self) -> Path:
        """Elasticsearch's distribution (and the one-host node's files)."""
        return self.es_base / "elasticsearch"

    @property
    def es_node(self) -> Path:
        """This host's Elasticsearch node: config, data and tmp."""
        return self.es if not self.host else self.es / "hosts" / f"host-{self.host}"

    @property
    def es_snapshots(self) -> Path:
        """The snapshot repositories' folder, one for every node (``path.repo``)."""
        return self.es / "snapshots"

    @property
    def es_home(self) -> Path:
        return self.es / f"elasticsearch-{ES_VERSION}"

    @property
    def es_conf(self) -> Path:
        return self.es_node / "config"

    @property
    def es_logs(self) -> Path:
        logs = self.es_base / "logs"
        return logs / "elasticsearch" if not self.host else logs / f"elasticsearch-{self.host}"

    @property
    def prefect(self) -> Path:
        return self.root / "prefect"

    @property
    def corenlp(self) -> Path:
        return self.root / "corenlp"
