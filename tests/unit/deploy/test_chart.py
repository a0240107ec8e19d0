"""The Helm chart (deploy/helm/newsflow) renders, every object passes its schema, and the check
bites: a broken field in a custom resource, a built-in object or the values fails it.

The first run builds the pinned Helm from the Go module proxy and fetches the operators' CRDs
(minutes); later runs take them from .stack/tools/ (seconds).
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from workers.settings import WorkerSettings
from workers.topology import REPLAYED, STAGES, all_topics

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("check_chart", ROOT / "scripts/check_chart.py")
assert _spec and _spec.loader
check_chart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_chart)

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return check_chart.crd_schemas(check_chart.crd_files())


@pytest.fixture(scope="module")
def rendered() -> Objects:
    objects: Objects = check_chart.render()
    return objects


@pytest.fixture
def objects(rendered: Objects) -> Objects:
    return copy.deepcopy(rendered)


def _one(objects: Objects, kind: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in objects
                if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def _all(objects: Objects, kind: str) -> Objects:
    return [o for o in objects if o["kind"] == kind]


def test_the_rendered_chart_passes(rendered: Objects, schemas: dict[Any, Any]) -> None:
    assert check_chart.check(rendered, schemas) == []
    assert check_chart.check_rules(rendered) == []
    assert check_chart.check_keda_kafka(rendered, check_chart.keda_kafka_parameters()) == []


def test_every_custom_resource_has_its_operators_schema(rendered: Objects,
                                                       schemas: dict[Any, Any]) -> None:
    custom = {(o["apiVersion"], o["kind"]) for o in rendered
              if o["apiVersion"].split("/")[0].endswith((".strimzi.io", ".elastic.co", "keda.sh"))}
    assert custom == {
        ("kafka.strimzi.io/v1", "Kafka"), ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"), ("kafka.strimzi.io/v1", "KafkaUser"),
        ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"),
        ("kibana.k8s.elastic.co/v1", "Kibana"),
        ("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
    }
    assert custom <= set(schemas)


def test_a_wrong_type_in_a_kafkatopic_fails(objects: Objects, schemas: dict[Any, Any]) -> None:
    _one(objects, "KafkaTopic")["spec"]["replicas"] = "three"
    errors = check_chart.check(objects, schemas)
    assert len(errors) == 1 and "KafkaTopic/" in errors[0] and "spec.replicas" in errors[0]


@pytest.mark.parametrize(("kind", "path", "field"), [
    ("KafkaTopic", ["spec"], "replica"),
    ("Elasticsearch", ["spec", "nodeSets", 0], "counts"),
    ("ScaledObject", ["spec"], "maxReplicas"),
    ("Kafka", ["spec", "kafka", "listeners", 0], "authentification"),
])
def test_a_misspelt_field_in_a_custom_resource_fails(objects: Objects, schemas: dict[Any, Any],
                                                      kind: str, path: list[Any],
                                                      field: str) -> None:
    node = _one(objects, kind)
    for step in path:
        node = node[step]
    node[field] = 3
    errors = check_chart.check(objects, schemas)
    assert len(errors) == 1 and f"'{field}' was unexpected" in errors[0]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("imagePullPolice", "Always", "'imagePullPolice' was unexpected"),
    ("replicas", "2", "spec.replicas: '2' is not of type"),
])
def test_a_bad_field_in_a_deployment_fails(objects: Objects, schemas: dict[Any, Any],
                                           field: str, value: str, message: str) -> None:
    deployment = _one(objects, "Deployment")
    target = deployment["spec"] if field == "replicas" else (
        deployment["spec"]["template"]["spec"]["containers"][0])
    target[field] = value
    errors = check_chart.check(objects, schemas)
    assert len(errors) == 1 and errors[0].startswith("Deployment/") and message in errors[0]


def test_a_bad_value_fails_through_helm(schemas: dict[Any, Any]) -> None:
    objects = check_chart.render(sets=["kafka.replicas=three"])
    errors = check_chart.check(objects, schemas)
    assert errors and all(e.startswith("KafkaNodePool/") for e in errors)


def test_the_rules_bite(objects: Objects) -> None:
    scaled = _one(objects, "ScaledObject")
    scaled["spec"]["maxReplicaCount"] = 7
    del _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]
    errors = check_chart.check_rules(objects)
    assert len(errors) == 2
    assert any("maxReplicaCount over the 6 partitions" in e for e in errors)
    assert any("no memory request and limit" in e for e in errors)


def test_crd_schemas_refuse_unknown_fields_and_keep_kubernetes_extensions() -> None:
    schema = check_chart.strict_schema({
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "note": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"a": {"type": "integer"}}},
        },
    })
    validator = check_chart.jsonschema.Draft4Validator(schema)
    assert not list(validator.iter_errors({"port": "http", "note": None, "free": {"b": 1}}))
    assert not list(validator.iter_errors({"port": 80}))
    assert list(validator.iter_errors({"other": 1}))
    assert list(validator.iter_errors({"port": 1.5}))


# -- what the chart promises, against the code it deploys -----------------------------------


def test_topics_are_cluster_safe_and_cover_the_pipeline(rendered: Objects) -> None:
    topics = {o["spec"]["topicName"]: o["spec"] for o in _all(rendered, "KafkaTopic")}
    settings = WorkerSettings()
    assert set(topics) == {*all_topics(settings), settings.topic(REPLAYED)}
    for name, spec in topics.items():
        assert (spec["partitions"], spec["replicas"]) == (6, 3), name
        assert spec["config"]["min.insync.replicas"] == 2, name
    week, month = 7 * 86_400_000, 30 * 86_400_000
    assert topics["news.raw"]["config"]["retention.ms"] == week
    assert topics["news.dlq"]["config"]["retention.ms"] == month
    assert topics["news.dlq-replayed"]["config"]["cleanup.policy"] == "compact"
    env = _one(rendered, "ConfigMap", "newsflow-settings")["data"]
    assert env["NEWSFLOW_TOPIC_PARTITIONS"] == "6"
    assert env["NEWSFLOW_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    assert env["NEWSFLOW_ES_REPLICAS"] == "1"
    kafka = _one(rendered, "Kafka")["spec"]["kafka"]["config"]
    assert (kafka["default.replication.factor"], kafka["min.insync.replicas"]) == (3, 2)


def test_one_scaled_deployment_per_stage(rendered: Objects) -> None:
    settings = WorkerSettings()
    for name, spec in STAGES.items():
        deployment = _one(rendered, "Deployment", f"newsflow-{name}")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker", name]
        trigger = _one(rendered, "ScaledObject", f"newsflow-{name}")["spec"]["triggers"][0]
        assert trigger["metadata"]["topic"] == spec.input_topic(settings)
        assert trigger["metadata"]["consumerGroup"] == settings.group(name)
        _one(rendered, "PodDisruptionBudget", f"newsflow-{name}")


def test_every_compose_credential_has_a_secret(rendered: Objects) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secrets = {o["metadata"]["name"] for o in _all(rendered, "Secret")}
    # elastic's password is ECK's own Secret (newsflow-es-elastic-user).
    wanted = {f"newsflow-{n.replace('_', '-')}" for n in compose["secrets"]
              if n != "elastic_password"}
    assert wanted <= secrets
    assert {"newsflow-prefect-auth-password", "newsflow-kibana-encryption-key"} <= secrets


def test_only_the_data_plane_reaches_elasticsearch(rendered: Objects) -> None:
    policy = _one(rendered, "NetworkPolicy", "newsflow-elasticsearch")["spec"]
    http = next(r for r in policy["ingress"] if r["ports"][0]["port"] == 9200)
    labels = [p.get("podSelector", {}).get("matchLabels", {}) for p in http["from"]]
    assert {"app.kubernetes.io/instance": "newsflow", "newsflow.io/data-plane": "true"} in labels
    listener = _one(rendered, "Kafka")["spec"]["kafka"]["listeners"][0]
    assert listener["networkPolicyPeers"][0]["podSelector"]["matchLabels"][
        "newsflow.io/data-plane"] == "true"
    stage_pods = [o for o in _all(rendered, "Deployment") if o["metadata"]["name"].split("-")[-1]
                  in STAGES]
    assert all(d["spec"]["template"]["metadata"]["labels"]["newsflow.io/data-plane"] == "true"
               for d in stage_pods)
    others = [o for o in _all(rendered, "Deployment") if o not in stage_pods]
    assert all("newsflow.io/data-plane" not in d["spec"]["template"]["metadata"]["labels"]
               for d in others)


@pytest.mark.parametrize(("kind", "change", "message"), [
    ("ScaledObject", {"lagTreshold": "10"}, "lagTreshold: not a triggerMetadata parameter"),
    ("ScaledObject", {"sasl": "scram-sha-512"}, "'scram-sha-512' is not one of"),
    ("ScaledObject", {"password": "x"}, "password: not a triggerMetadata parameter"),
    ("TriggerAuthentication", {"parameter": "user"}, "user: not a authParams parameter"),
])
def test_kedas_free_form_kafka_parameters_are_checked_against_its_scaler(
        objects: Objects, kind: str, change: dict[str, str], message: str) -> None:
    parameters = check_chart.keda_kafka_parameters()
    assert check_chart.check_keda_kafka(objects, parameters) == []
    obj = _one(objects, kind)
    if kind == "ScaledObject":
        obj["spec"]["triggers"][0]["metadata"].update(change)
    else:
        obj["spec"]["secretTargetRef"][0].update(change)
    errors = check_chart.check_keda_kafka(objects, parameters)
    assert len(errors) == 1 and message in errors[0]


def _job_template(objects: Objects) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(
        _one(objects, "ConfigMap", "newsflow-prefect-job-template")["data"][
            check_chart.JOB_TEMPLATE_KEY])
    return template


def test_a_flow_run_of_the_kubernetes_pool_is_a_checked_job_in_the_data_plane(
        rendered: Objects) -> None:
    job = _one(rendered, "Job", "newsflow-prefect-job-template-flow-run")
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["newsflow.io/data-plane"] == "true"
    [container] = pod["spec"]["containers"]
    assert container["image"].startswith("newsflow:")
    # The image's entrypoint is newsflow: Prefect's command runs as `python -m prefect ...`.
    assert container["command"] == ["python", "-m"]
    assert container["args"] == ["prefect", "flow-run", "execute"]
    assert {"configMapRef": {"name": "newsflow-settings"}} in container["envFrom"]
    worker = _one(rendered, "Deployment", "newsflow-prefect-worker")
    command = worker["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--base-job-template") + 1] == \
        "/templates/base-job-template.json"
    assert check_chart.check_job_templates(rendered) == []


def test_a_broken_job_template_fails(objects: Objects, schemas: dict[Any, Any]) -> None:
    config = _one(objects, "ConfigMap", "newsflow-prefect-job-template")
    template = _job_template(objects)
    container = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"][
        "containers"][0]
    container["imagePullPolicy"] = 3
    template["job_configuration"]["labels"] = "{{ tags }}"
    config["data"][check_chart.JOB_TEMPLATE_KEY] = json.dumps(template)
    jobs = check_chart.flow_run_jobs([config])
    errors = check_chart.check(jobs, schemas)
    assert len(errors) == 1 and "imagePullPolicy" in errors[0], errors
    assert check_chart.check_job_templates([config]) == [
        "ConfigMap/newsflow-prefect-job-template: placeholder {{ tags }} is not a variable",
        "ConfigMap/newsflow-prefect-job-template: placeholder {{ tags }} is not one Prefect "
        "fills"]
