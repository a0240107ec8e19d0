"""The local cluster's layout: host n's ports and folders, and the settings clients get."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.stack import cluster
from newsflow.stack.errors import StackError
from newsflow.stack.paths import Paths
from newsflow.stack.services import SERVICES


def test_host_n_listens_on_host_ones_ports_shifted() -> None:
    hosts = cluster.hosts(Settings(), 3)
    assert [h.kafka.port for h in hosts] == [9092, 9094, 9096]
    assert [h.controller_port for h in hosts] == [9093, 9095, 9097]
    assert [h.es.port for h in hosts] == [9200, 9201, 9202]
    assert [h.transport_port for h in hosts] == [9300, 9301, 9302]
    assert [h.corenlp_url for h in hosts] == [f"http://127.0.0.1:{p}" for p in (9000, 9001, 9002)]


def test_clients_of_a_cluster_get_every_broker_and_node() -> None:
    wide = cluster.widen(Settings(), 3)
    assert wide.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert wide.es_hosts == [f"http://127.0.0.1:{p}" for p in (9200, 9201, 9202)]
    assert cluster.widen(Settings(), 1) == Settings()
    # Widening twice (host 1 is the first of each list) changes nothing.
    assert cluster.widen(wide, 3) == wide


def test_one_host_keeps_the_single_node_names_and_folders(tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path)
    one = cluster.instances(settings, 1, SERVICES)
    assert [i.name for i in one] == ["kafka", "elasticsearch", "prefect", "corenlp"]
    assert one[0].paths.kafka_node == tmp_path.resolve() / "kafka"
    three = cluster.instances(settings, 3, SERVICES)
    assert [i.name for i in three if i.host.n == 2] == ["kafka-2", "elasticsearch-2",
                                                        "corenlp-2"]
    assert [i.name for i in three if i.service == "prefect"] == ["prefect"]  # one server
    es = Paths.of(settings).es  # (under /var/tmp when root's tmp_path is private)
    assert {i.paths.es_node for i in three if i.service == "elasticsearch"} == {
        es / "hosts" / f"host-{n}" for n in (1, 2, 3)}


def test_the_number_of_hosts_is_remembered(tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path)
    assert cluster.recorded_nodes(settings) == 1
    cluster.record(settings, 3)
    assert cluster.recorded_nodes(settings) == 3
    cluster.record(settings, 1)
    assert cluster.recorded_nodes(settings) == 1


def test_too_many_hosts_is_refused() -> None:
    with pytest.raises(StackError, match="between 1 and 5"):
        cluster.hosts(Settings(), 6)
