"""How each service is run: its command line, environment and folder, from the settings and
the loopback endpoint (nothing is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.stack import cluster, commands
from newsflow.stack.cluster import Instance
from newsflow.stack.endpoints import Endpoint
from newsflow.stack.paths import Paths
from newsflow.stack.pins import CORENLP_MODELS_ARG


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setattr(commands, "find_java_home", lambda service: Path("/jdk") / service)
    return Paths(tmp_path, tmp_path)


def one(settings: Settings, paths: Paths, service: str = "kafka") -> Instance:
    """``service`` on the one-host stack."""
    [host] = cluster.hosts(settings, 1)
    return Instance(service, host, service, settings, paths, (host,))


def test_kafka_listens_on_its_port_with_the_controller_on_the_next(paths: Paths) -> None:
    (paths.kafka / "data").mkdir(parents=True)
    (paths.kafka / "data" / "meta.properties").write_text("formatted")  # no format step
    cmd = commands.kafka(one(Settings(kafka_heap="300m"), paths, "kafka"),
                               Endpoint("127.0.0.1", 19092))
    config = (paths.kafka / "server.properties").read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in config
    assert f"log.dirs={paths.kafka / 'data'}" in config
    assert cmd.argv[0] == "/jdk/kafka/bin/java"
    assert "-Xmx300m" in cmd.argv
    assert cmd.argv[-2:] == ["kafka.Kafka", str(paths.kafka / "server.properties")]
    assert cmd.cwd == paths.kafka and cmd.env is None


def test_elasticsearch_gets_its_own_config_folder_and_heap(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "as_es_user", lambda paths, java_home: [])
    (paths.es_home / "config").mkdir(parents=True)
    (paths.es_home / "config" / "jvm.options").write_text("-Xss1m\n")
    cmd = commands.elasticsearch(one(Settings(es_heap="768m"), paths, "elasticsearch"),
                                       Endpoint("127.0.0.1", 19200))
    assert (paths.es_conf / "jvm.options").is_file()
    assert "http.port: 19200" in (paths.es_conf / "elasticsearch.yml").read_text()
    assert cmd.argv == [str(paths.es_home / "bin" / "elasticsearch")]
    assert cmd.env is not None
    assert cmd.env["ES_JAVA_HOME"] == "/jdk/elasticsearch"
    assert cmd.env["ES_PATH_CONF"] == str(paths.es_conf)
    assert cmd.env["ES_JAVA_OPTS"] == "-Xms768m -Xmx768m"
    assert cmd.cwd == paths.es_logs  # jvm.options writes gc.log relative to it


def test_corenlp_runs_our_ner_server_from_source(paths: Paths) -> None:
    cmd = commands.corenlp(one(Settings(corenlp_heap="1g"), paths, "corenlp"),
                                 Endpoint("127.0.0.1", 9000))
    assert cmd.argv[:2] == ["/jdk/corenlp/bin/java", "-Xmx1g"]
    assert cmd.argv[4].endswith("NerServer.java")
    assert cmd.argv[5:] == ["127.0.0.1", "9000", CORENLP_MODELS_ARG, "4"]


def test_prefect_keeps_its_database_in_the_stack_folder(paths: Paths) -> None:
    cmd = commands.prefect(one(Settings(), paths, "prefect"),
                                 Endpoint("127.0.0.1", 4200))
    assert cmd.argv[1:] == ["server", "start", "--host", "127.0.0.1", "--port", "4200"]
    assert cmd.env is not None and cmd.env["PREFECT_HOME"] == str(paths.prefect)
    assert cmd.env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_prefect_deletes_old_flow_runs(paths: Paths) -> None:
    cmd = commands.prefect(one(Settings(prefect_run_retention_days=3), paths, "prefect"),
                                 Endpoint("127.0.0.1", 4200))
    assert cmd.env is not None
    assert cmd.env["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"] == "events,flow_runs"
    assert cmd.env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"] == str(3 * 86_400)
    # What Prefect makes of them (its own settings model, as the server reads them).
    from prefect.settings.models.server.services import ServerServicesDBVacuumSettings

    vacuum = ServerServicesDBVacuumSettings(
        enabled=cmd.env["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"],
        retention_period=cmd.env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"])
    assert vacuum.enabled_vacuum_types == {"events", "flow_runs", "orphans"}
    assert vacuum.retention_period.days == 3


def test_a_clusters_broker_is_one_of_three_static_voters(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "find_java_home", lambda service: Path("/jdk") / service)
    settings = Settings(stack_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092")
    second = cluster.instances(settings, 3, ("kafka",))[1]
    (second.paths.kafka_node / "data").mkdir(parents=True)
    (second.paths.kafka_node / "data" / "meta.properties").write_text("formatted")
    cmd = commands.kafka(second, Endpoint("127.0.0.1", 19094))
    config = (second.paths.kafka_node / "server.properties").read_text()
    assert "node.id=2\n" in config
    assert ("controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
            in config)
    assert "offsets.topic.replication.factor=3" in config
    assert "transaction.state.log.min.isr=2" in config
    assert cmd.cwd == tmp_path.resolve() / "hosts" / "host-2" / "kafka"


def test_a_clusters_elasticsearch_node_knows_its_peers(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "find_java_home", lambda service: Path("/jdk") / service)
    monkeypatch.setattr(commands, "as_es_user", lambda paths, java_home: [])
    settings = Settings(stack_dir=tmp_path, es_url="http://127.0.0.1:19200")
    third = cluster.instances(settings, 3, ("elasticsearch",))[2]
    (third.paths.es_home / "config").mkdir(parents=True)
    commands.elasticsearch(third, Endpoint("127.0.0.1", 19202))
    config = (third.paths.es_conf / "elasticsearch.yml").read_text()
    assert "node.name: newsflow-3" in config and "transport.port: 19302" in config
    assert ('discovery.seed_hosts: ["127.0.0.1:19300", "127.0.0.1:19301", "127.0.0.1:19302"]'
            in config)
    assert "single-node" not in config


def test_compose_and_the_chart_serve_the_same_ner_models_as_the_local_stack() -> None:
    root = Path(__file__).resolve().parents[4]
    for path in ("docker-compose.yml", "deploy/helm/newsflow/templates/corenlp.yaml"):
        assert CORENLP_MODELS_ARG in (root / path).read_text(), path
