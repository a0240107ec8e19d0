"""The local stack's services in one table: where each listens, how it is fetched, run and
probed; and the one starter that launches any of them.

In: a service name and the settings. Out: its endpoint, its health (through
:mod:`workers.io.health`: httpx and kafka-python, each probe giving up within seconds), or its
background process started (not waited for).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from newsflow.config import Settings
from newsflow.stack import artifacts, commands, processes
from newsflow.stack.cluster import Instance
from newsflow.stack.commands import Command
from newsflow.stack.endpoints import Endpoint, loopback_only, parse
from newsflow.stack.errors import StackError
from newsflow.stack.paths import Paths
from workers.io import health

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    name: str
    setting: str  # the settings field holding its endpoint (shown as is by `stack status`)
    url: bool  # the endpoint is an http URL; else Kafka's host:port
    default_port: int  # when the endpoint names none
    fetch: Callable[[Paths], None]  # what it runs, in place (idempotent, cached)
    command: Callable[[Instance, Endpoint], Command]  # how one instance of it runs
    probe: Callable[[Settings], bool]  # it answers as healthy at its endpoint


def _kafka_answers(settings: Settings) -> bool:
    return health.kafka_healthy(endpoint(settings, "kafka").address)


def _elasticsearch_answers(settings: Settings) -> bool:
    return health.elasticsearch_healthy(settings.es_url)


def _prefect_answers(settings: Settings) -> bool:
    return health.get_json(settings.prefect_api_url.rstrip("/") + "/health") is True


def _corenlp_answers(settings: Settings) -> bool:
    return health.corenlp_ready(settings.corenlp_url)


TABLE: dict[str, Service] = {
    service.name: service
    for service in (
        Service("kafka", "kafka_bootstrap", url=False, default_port=9092,
                fetch=partial(artifacts.fetch_jars, "kafka"), command=commands.kafka,
                probe=_kafka_answers),
        Service("elasticsearch", "es_url", url=True, default_port=80,
                fetch=artifacts.fetch_elasticsearch, command=commands.elasticsearch,
                probe=_elasticsearch_answers),
        Service("prefect", "prefect_api_url", url=True, default_port=80,
                fetch=artifacts.find_prefect, command=commands.prefect,
                probe=_prefect_answers),
        Service("corenlp", "corenlp_url", url=True, default_port=80,
                fetch=partial(artifacts.fetch_jars, "corenlp"), command=commands.corenlp,
                probe=_corenlp_answers),
    )
}
SERVICES: tuple[str, ...] = tuple(TABLE)  # the order of `stack status`
# Elasticsearch first: it boots slowest, so its start overlaps Kafka's storage format and the rest.
START_ORDER: tuple[str, ...] = ("elasticsearch", "kafka", "corenlp", "prefect")


def check(services: Sequence[str]) -> list[str]:
    """``services`` in :data:`SERVICES` order, once each; unknown names refused."""
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise StackError(f"unknown service(s) {unknown}; known: {', '.join(SERVICES)}")
    return [s for s in SERVICES if s in services]


def display(settings: Settings, service: str) -> str:
    """The endpoint setting of ``service`` as given (the first, when it lists a cluster's)."""
    value: str = getattr(settings, TABLE[service].setting)
    return value.split(",")[0].strip()


def endpoint(settings: Settings, service: str) -> Endpoint:
    """Host and port ``service`` is reached at, from the settings."""
    spec = TABLE[service]
    return parse(service, spec.setting, display(settings, service), url=spec.url,
                 default_port=spec.default_port)


def bind_host(settings: Settings, service: str) -> Endpoint:
    """The address to bind ``service`` to; refuses anything but loopback."""
    return loopback_only(service, endpoint(settings, service))


def healthy(settings: Settings, service: str) -> bool:
    """True if ``service`` answers at its configured endpoint (whoever started it)."""
    check([service])
    return TABLE[service].probe(settings)


def start(inst: Instance) -> int:
    """Launch one instance of a service in the background on its loopback endpoint; its pid."""
    ep = bind_host(inst.settings, inst.service)
    cmd = TABLE[inst.service].command(inst, ep)
    paths = inst.paths
    return processes.start(inst.name, cmd.argv, run_dir=paths.run, log_path=paths.log(inst.name),
                           env=cmd.env, cwd=cmd.cwd)
