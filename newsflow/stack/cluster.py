"""The local stack as N hosts side by side: host n's ports, the processes of each host, and the
settings every client of the cluster gets.

In: the settings (their Kafka, Elasticsearch and CoreNLP endpoints are host 1's) and the number
of hosts. Out: one :class:`Host` per host, one :class:`Instance` per process to run, and the
settings widened to every broker and every Elasticsearch node. Host *n* listens on host 1's ports
shifted by n - 1 (Kafka by two ports a host: broker and controller), so three hosts fit one
machine:

    host   kafka (controller)   elasticsearch (transport)   corenlp   prefect worker
    1      9092 (9093)          9200 (9300)                 9000      prefect-worker-1
    2      9094 (9095)          9201 (9301)                 9001      prefect-worker-2
    3      9096 (9097)          9202 (9302)                 9002      prefect-worker-3

plus one Prefect server (host 1). One host (the default) keeps the names and folders of the
single-node stack: processes ``kafka``, ``elasticsearch``, ``prefect``, ``corenlp``. The number
of hosts ``stack up --nodes N`` started is kept in ``<stack_dir>/cluster.json`` so that every
later command talks to the whole cluster without being told again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from newsflow.config import Settings
from newsflow.stack.endpoints import Endpoint, parse
from newsflow.stack.errors import StackError
from newsflow.stack.paths import Paths

MAX_NODES = 5


@dataclass(frozen=True)
class Host:
    """Where the services of host ``n`` (of ``nodes``) listen."""

    n: int
    nodes: int
    kafka: Endpoint
    controller_port: int
    es: Endpoint
    transport_port: int
    corenlp: Endpoint

    @property
    def es_url(self) -> str:
        return f"http://{self.es.address}"

    @property
    def corenlp_url(self) -> str:
        return f"http://{self.corenlp.address}"


@dataclass(frozen=True)
class Instance:
    """One process of the stack: a service of the services table on one host."""

    service: str  # kafka | elasticsearch | prefect | corenlp
    host: Host
    name: str  # its pid file and log: "kafka" on one host, "kafka-2" on a cluster
    settings: Settings  # the endpoints of this one process (what it binds and is probed at)
    paths: Paths  # its folders (data per host, downloads shared)
    peers: tuple[Host, ...]  # every host of the cluster, this one included


def _first(value: str) -> str:
    return value.split(",")[0].strip()


def hosts(settings: Settings, nodes: int) -> list[Host]:
    """Every host's endpoints, derived from host 1's (the first of each endpoint setting)."""
    if not 1 <= nodes <= MAX_NODES:
        raise StackError(f"--nodes must be between 1 and {MAX_NODES}, not {nodes}")
    kafka = parse("kafka", "kafka_bootstrap", _first(settings.kafka_bootstrap), url=False,
                  default_port=9092)
    es = parse("elasticsearch", "es_url", _first(settings.es_url), url=True, default_port=80)
    corenlp = parse("corenlp", "corenlp_url", settings.corenlp_url, url=True, default_port=80)
    return [
        Host(n, nodes,
             kafka=Endpoint(kafka.host, kafka.port + 2 * (n - 1)),
             controller_port=kafka.port + 2 * (n - 1) + 1,
             es=Endpoint(es.host, es.port + n - 1),
             transport_port=es.port + 100 + n - 1,
             corenlp=Endpoint(corenlp.host, corenlp.port + n - 1))
        for n in range(1, nodes + 1)
    ]


def host_settings(settings: Settings, host: Host) -> Settings:
    """``settings`` pointed at host ``n``'s own broker, Elasticsearch node and CoreNLP only."""
    return settings.model_copy(update={
        "kafka_bootstrap": host.kafka.address, "es_url": host.es_url,
        "corenlp_url": host.corenlp_url})


def widen(settings: Settings, nodes: int) -> Settings:
    """The settings a client of the cluster uses: every broker, every Elasticsearch node (the
    clients fail over between them), host 1's CoreNLP. Unchanged for one host."""
    if nodes <= 1:
        return settings
    all_hosts = hosts(settings, nodes)
    return settings.model_copy(update={
        "kafka_bootstrap": ",".join(h.kafka.address for h in all_hosts),
        "es_url": ",".join(h.es_url for h in all_hosts),
        "corenlp_url": all_hosts[0].corenlp_url})


def instances(settings: Settings, nodes: int, services: tuple[str, ...]) -> list[Instance]:
    """The processes of ``services`` (names of :data:`newsflow.stack.services.SERVICES`) on
    ``nodes`` hosts, host by host (the Prefect server on host 1 only)."""
    out = []
    peers = tuple(hosts(settings, nodes))
    for host in peers:
        for service in services:
            if service == "prefect" and host.n > 1:
                continue
            name = service if nodes == 1 or service == "prefect" else f"{service}-{host.n}"
            out.append(Instance(service, host, name, host_settings(settings, host),
                                Paths.of(settings, host=0 if nodes == 1 else host.n), peers))
    return out


def recorded_nodes(settings: Settings) -> int:
    """The hosts the last ``stack up --nodes N`` started here (1 when none did)."""
    try:
        data = json.loads((Paths.of(settings).root / "cluster.json").read_text())
        return int(data["nodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1


def record(settings: Settings, nodes: int) -> None:
    """Remember the number of hosts (removed again for one host)."""
    path = Paths.of(settings).root / "cluster.json"
    if nodes <= 1:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nodes": nodes}) + "\n")
