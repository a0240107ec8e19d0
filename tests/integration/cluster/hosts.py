"""What the cluster tests do to the three hosts and ask of them: deploy on the work pool, lose a
host, restart one cleanly, find the elected Elasticsearch master and Kafka controller, wait for
green and full ISR, count running stage replicas per host, sample throughput."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, TransportError

from flows import deploy as flow_deploy
from flows import pool
from flows import replicas as flow_replicas
from newsflow import stack
from newsflow.config import Settings
from newsflow.stack import cluster, hosts, prefect_workers, processes
from newsflow.stack.paths import Paths
from tests.integration.conftest import wait_for
from workers.io import elastic, kafka_admin
from workers.topology import STAGES, all_topics


def nodes(settings: Settings) -> int:
    return cluster.recorded_nodes(settings)


def deploy(settings: Settings, replicas: int) -> None:
    """Each host's Prefect worker for this test's pool, the deployments, ``replicas`` runs of
    each stage spread over the hosts, all running."""
    flow_deploy.apply_deployments(settings)
    prefect_workers.start_hosts(settings, nodes(settings))
    wait_for(lambda: len(pool.online_hosts(settings)) == nodes(settings), timeout=120,
             what="every host's Prefect worker online")
    flow_replicas.ensure_replicas(settings, replicas)
    wait_for(lambda: full_replicas(settings, replicas), timeout=300, interval=2,
             what=f"{replicas} running flow runs of every stage")


def undeploy(settings: Settings) -> None:
    """The deployments first (the supervisors then stop replacing runs), then each host's
    worker with its runs, then the pool."""
    flow_deploy.delete_deployments(settings)
    prefect_workers.stop_all(settings)
    pool.delete_pool(settings)


def replicas_by_stage(settings: Settings) -> dict[str, list[int]]:
    """stage -> the hosts of its running flow runs."""
    out: dict[str, list[int]] = {s: [] for s in STAGES}
    for stage, host, _ in pool.stage_runs(settings):
        if host is not None:
            out[stage].append(host)
    return out


def full_replicas(settings: Settings, replicas: int, alive: set[int] | None = None) -> bool:
    """Every stage has ``replicas`` running runs (on the hosts in ``alive`` only, if given)."""
    return all(len([h for h in placed if alive is None or h in alive]) >= replicas
               for placed in replicas_by_stage(settings).values())


def kill_host(settings: Settings, host: int) -> None:
    """SIGKILL every process of ``host`` at once (the Prefect server stays: it is no host's)."""
    assert hosts.kill(settings, host), f"host {host} had no processes"


def stop_host(settings: Settings, host: int) -> None:
    """Stop ``host`` cleanly, as an upgrade does: its flow runs and Prefect worker first (they
    finish their batch and commit), then its broker, Elasticsearch node and CoreNLP."""
    prefect_workers.stop(settings, host)
    run_dir = Paths.of(settings).run
    for name in hosts.process_names(settings, host):
        if name != "prefect":
            processes.stop(name, run_dir)


def restart_host(settings: Settings, host: int) -> None:
    """Start whatever of ``host`` is not running (the others are left as they are)."""
    stack.up(settings, nodes=nodes(settings), timeout=600)
    prefect_workers.start_hosts(settings, nodes(settings))


def es_master_host(settings: Settings) -> int:
    """The host of the elected Elasticsearch master (node ``newsflow-<n>``); 0 while none is
    elected (the nodes then answer with errors)."""
    try:
        rows: Any = elastic.client(settings).cat.master(format="json").body
        return int(str(rows[0]["node"]).rsplit("-", 1)[1])
    except (ApiError, TransportError, IndexError, KeyError, ValueError):
        return 0


def kafka_controller_host(settings: Settings) -> int:
    """The host of the active KRaft controller: the leader in the brokers' quorum-state files
    (the newest epoch any of them has seen)."""
    best = (-1, -1)
    for n in range(1, nodes(settings) + 1):
        path = (Paths.of(settings, host=n).kafka_node / "data" / "__cluster_metadata-0"
                / "quorum-state")
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        best = max(best, (int(state["leaderEpoch"]), int(state.get("leaderId", -1))))
    assert best[1] > 0, "no broker knows a controller"
    return best[1]


def es_green(settings: Settings) -> bool:
    health = elastic.client(settings).cluster.health(timeout="1s")
    return bool(health["status"] == "green" and health["number_of_nodes"] == nodes(settings))


def isr_full(settings: Settings) -> bool:
    """Every partition of this pipeline's topics has all its replicas in sync."""
    admin = kafka_admin.admin(settings)
    try:
        topics = all_topics(settings)
        described = admin.describe_topics(topics)
    finally:
        admin.close()
    return all(len(p["isr_nodes"]) == len(p["replica_nodes"]) == 3
               for t in described for p in t["partitions"])


@dataclass
class Throughput:
    """Documents in the index sampled every second in the background: articles/s in a window."""

    settings: Settings
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        es = elastic.client(self.settings)
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a node being killed: the next sample will do
                self.samples.append((time.monotonic(), elastic.count(es, self.settings)))
            self._stop.wait(1.0)

    def rate(self, start: float, end: float) -> float:
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return 0.0
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> Throughput:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def worker_log_tails(settings: Settings, lines: int = 15) -> str:
    paths = Paths.of(settings)
    return "\n".join(f"--- {paths.log(prefect_workers.name(n))}\n"
                     + processes.log_tail(paths.log(prefect_workers.name(n)), lines)
                     for n in range(1, nodes(settings) + 1))
