"""Faults a cluster has, on three local hosts, each while articles stream through (3,000 per
scenario by default, one in twenty poison): a whole host lost and back, a rolling restart of
every host, the elected Elasticsearch master killed, the active Kafka controller killed.

After each: every good article indexed exactly once, every poison message dead-lettered with
its reason by the right stage, no infrastructure fault dead-lettered, the audit balanced
(``check_books``). Recovery times and articles/s before, during and after are printed (and
recorded in docs/operations.md).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from flows import pool
from newsflow.audit import audit
from newsflow.cli.status import status_json
from newsflow.config import Settings
from newsflow.stack import processes
from newsflow.stack.paths import Paths
from tests.integration.cluster import hosts
from tests.integration.cluster.conftest import articles_per_scenario
from tests.integration.conftest import wait_for
from tests.integration.faults.corpus import Corpus, check_books, make_corpus, progress, publish
from workers.io import elastic, kafka_admin
from workers.topology import STAGES, all_topics

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

REPLICAS = 2


class Stream:
    """A corpus published at a steady pace in the background, so that articles keep arriving
    while the fault happens."""

    def __init__(self, settings: Settings, tag: str, per_second: float) -> None:
        self.corpus = make_corpus(tag, articles_per_scenario(), settings.max_message_bytes)
        self.settings = settings
        self.per_second = per_second
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None
        self.thread.start()

    def _run(self) -> None:
        try:
            chunk = max(1, int(self.per_second))
            messages = self.corpus.messages
            for i in range(0, len(messages), chunk):
                started = time.monotonic()
                publish(self.settings, messages[i:i + chunk])
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self) -> None:
        self.thread.join(timeout=900)
        assert not self.thread.is_alive(), "publishing hung"
        assert self.error is None, f"publishing failed: {self.error!r}"


def merged(*corpora: Corpus) -> Corpus:
    out = Corpus([], set())
    for c in corpora:
        out.messages += c.messages
        out.good_ids |= c.good_ids
        out.poison.update(c.poison)
        out.poison_ids.update(c.poison_ids)
    return out


def settle(settings: Settings, corpus: Corpus) -> None:
    """Wait until every good article is indexed and the audit balances; then check the books."""
    def done() -> bool:
        if progress(settings) < len(corpus.good_ids):
            return False
        rec = audit(settings).reconciliation
        return rec is not None and rec.balanced

    wait_for(done, timeout=600 + len(corpus.messages) * 0.5, interval=3, what="balanced books")
    check_books(settings, corpus)


def recovery(settings: Settings, since: float, alive: set[int], rate: hosts.Throughput,
             before: float, target: int) -> dict[str, float]:
    """Seconds after ``since`` until each stage has its replicas back on the ``alive`` hosts,
    and until the index grows at 80% of the rate ``before`` again (over 10 s), or holds all
    ``target`` documents."""
    back: dict[str, float] = {}

    def all_back() -> bool:
        placed = hosts.replicas_by_stage(settings)
        now = time.monotonic() - since
        for stage in STAGES:
            if stage not in back and len([h for h in placed[stage] if h in alive]) >= REPLICAS:
                back[stage] = now
        return len(back) == len(STAGES)

    wait_for(all_back, timeout=300, interval=1, what="every stage back at full replicas")

    def flowing() -> float | None:
        now = time.monotonic()
        if rate.rate(now - 10, now) >= 0.8 * before or progress(settings) >= target:
            return now - since
        return None

    throughput = wait_for(flowing, timeout=300, interval=1, what="throughput back")
    return {**{f"{s} replicas back (s)": round(v, 1) for s, v in back.items()},
            "throughput back (s)": round(throughput, 1)}


def report(name: str, figures: Mapping[str, object]) -> None:
    print(f"\n[cluster] {name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


def test_three_hosts_have_the_cluster_shape(cluster_pipeline: Settings) -> None:
    """What `newsflow stack up --nodes 3` promises: 3 Elasticsearch nodes; RF 3 and min ISR 2
    on every topic; 1 replica of the index and of the dedup state; 3 online Prefect workers;
    stage runs on more than one host, as `stack status --json` reports them."""
    settings = cluster_pipeline
    es = elastic.client(settings)
    assert len(es.cat.nodes(format="json").body) == 3
    admin = kafka_admin.admin(settings)
    try:
        topics = all_topics(settings)
        described = {t["name"]: t for t in admin.describe_topics(topics)}
        assert {len(p["replica_nodes"]) for t in topics for p in described[t]["partitions"]} \
            == {3}
        found = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])["topic"]
        assert {found[t]["min.insync.replicas"]["value"] for t in topics} == {"2"}
    finally:
        admin.close()
    # One dedup partition, written by the first article of this pipeline.
    publish(settings, make_corpus(f"{settings.topic_prefix}-shape", 1, 1 << 20).messages)
    # The first article waits for every stage's group to form (two members each): minutes
    # when the machine is loaded.
    wait_for(lambda: progress(settings) == 1, timeout=600, what="the first article indexed")
    replicas = {name: int(ix["settings"]["index"]["number_of_replicas"])
                for name, ix in es.indices.get_settings(index=f"{settings.es_alias}-*").items()}
    assert any("dedup-state" in name for name in replicas), replicas
    assert set(replicas.values()) == {1}, replicas
    assert pool.online_hosts(settings) == [1, 2, 3]

    shape = status_json(settings)
    services = {(s["name"], s["host"]): s["state"] for s in shape["services"]}
    for host in (1, 2, 3):
        for name in ("kafka", "elasticsearch", "corenlp", "prefect-worker"):
            assert services[(name, host)] == "up", (name, host)
    assert services[("prefect-server", 1)] == "up"
    stage_hosts = {w["host"] for w in shape["workers"]}
    assert len(stage_hosts) >= 2, shape["workers"]
    assert {w["stage"] for w in shape["workers"]} == set(STAGES)
    assert all(w["pid"] for w in shape["workers"])


def test_host_lost_then_back(cluster_pipeline: Settings, rate: hosts.Throughput) -> None:
    settings = cluster_pipeline
    victim = 2
    first = Stream(settings, f"{settings.topic_prefix}-a", per_second=40)
    wait_for(lambda: progress(settings) >= 300, timeout=600, what="300 articles indexed")
    killed = time.monotonic()
    before = rate.rate(killed - 20, killed)
    hosts.kill_host(settings, victim)
    figures: dict[str, object] = {"articles/s before": round(before, 1)}
    figures.update(recovery(settings, killed, {1, 3}, rate, before,
                            len(first.corpus.good_ids)))
    figures["articles/s during (first 30 s)"] = round(rate.rate(killed, killed + 30), 1)
    first.join()
    settle(settings, first.corpus)
    settled = time.monotonic()
    figures["articles/s after"] = round(rate.rate(settled - 30, settled), 1)
    report("host loss", figures)

    # The host comes back while a second stream flows: it rejoins, replicas green, ISR full.
    second = Stream(settings, f"{settings.topic_prefix}-b", per_second=40)
    returned = time.monotonic()
    hosts.restart_host(settings, victim)
    wait_for(lambda: hosts.es_green(settings), timeout=600, interval=2, what="green")
    green = time.monotonic() - returned
    wait_for(lambda: hosts.isr_full(settings), timeout=600, interval=2, what="ISR back to 3")
    isr = time.monotonic() - returned
    second.join()
    settle(settings, merged(first.corpus, second.corpus))
    report("host back", {"green after (s)": round(green, 1), "ISR 3 after (s)": round(isr, 1)})


def test_rolling_restart_of_every_host(cluster_pipeline: Settings,
                                       rate: hosts.Throughput) -> None:
    settings = cluster_pipeline
    stream = Stream(settings, settings.topic_prefix, per_second=15)
    wait_for(lambda: progress(settings) >= 100, timeout=600, what="100 articles indexed")
    began = time.monotonic()
    took: dict[str, float] = {"articles/s before": round(rate.rate(began - 20, began), 1)}
    for host in (1, 2, 3):
        started = time.monotonic()
        hosts.stop_host(settings, host)
        hosts.restart_host(settings, host)
        wait_for(lambda: hosts.es_green(settings) and hosts.isr_full(settings)
                 and hosts.full_replicas(settings, REPLICAS), timeout=600, interval=2,
                 what=f"host {host} back: green, ISR 3, every stage at full replicas")
        took[f"host {host} (s)"] = round(time.monotonic() - started, 1)
    ended = time.monotonic()
    took["articles/s during"] = round(rate.rate(began, ended), 1)
    stream.join()
    settle(settings, stream.corpus)
    settled = time.monotonic()
    took["articles/s after"] = round(rate.rate(max(ended, settled - 30), settled), 1)
    report("rolling restart", took)


def _kill_one(settings: Settings, name: str) -> None:
    pid = processes.pid_of(name, Paths.of(settings).run)
    assert pid is not None, f"{name} is not running"
    os.killpg(pid, signal.SIGKILL)


def _leader_loss(settings: Settings, rate: hosts.Throughput, find: Callable[[Settings], int],
                 service: str, leader: str) -> None:
    """Kill the elected ``leader`` of ``service`` (found by ``find``) under load; a new one is
    elected, the killed node comes back, the books balance."""
    stream = Stream(settings, settings.topic_prefix, per_second=40)
    wait_for(lambda: progress(settings) >= 300, timeout=600, what="300 articles indexed")
    old = find(settings)
    killed = time.monotonic()
    before = rate.rate(killed - 20, killed)
    _kill_one(settings, f"{service}-{old}")
    new = wait_for(lambda: (n := find(settings)) != old and n, timeout=120, interval=0.5,
                   what=f"a new {leader}")
    elected = time.monotonic() - killed
    time.sleep(10)
    hosts.restart_host(settings, old)
    stream.join()
    settle(settings, stream.corpus)
    settled = time.monotonic()
    report(f"{leader} loss", {
        "killed host": old, "new leader host": new, "elected after (s)": round(elected, 1),
        "articles/s before": round(before, 1),
        "articles/s during (first 30 s)": round(rate.rate(killed, killed + 30), 1),
        "articles/s after": round(rate.rate(settled - 30, settled), 1)})


def test_elasticsearch_master_killed(cluster_pipeline: Settings, rate: hosts.Throughput) -> None:
    _leader_loss(cluster_pipeline, rate, hosts.es_master_host, "elasticsearch",
                 "Elasticsearch master")


def test_kafka_controller_killed(cluster_pipeline: Settings, rate: hosts.Throughput) -> None:
    _leader_loss(cluster_pipeline, rate, hosts.kafka_controller_host, "kafka",
                 "Kafka controller")
