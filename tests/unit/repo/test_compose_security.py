"""docker-compose.yml's security settings, read from the file (no Docker engine needed).

Checks: no password written in the file (every one is a ${VAR} from the generated .env),
Elasticsearch security and TLS on, Kibana as kibana_system over https, Kafka reachable only
through SASL_SSL with one user per stage, Prefect with basic auth, ports on 127.0.0.1 only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.secrets import ENV_KEYS
from workers.topology import STAGES

REPO = Path(__file__).resolve().parents[3]
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")
_SECRET_KEY = re.compile(r"PASSWORD|AUTH_STRING|ENCRYPTIONKEY|TOKEN|_KEY$", re.I)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def _strings(node: Any) -> list[str]:
    """Every string value in the parsed file (comments are not values)."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_no_password_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if _SECRET_KEY.search(key):
                # Only references to .env, with no default (`:-x` would be a committed default).
                assert _VAR.search(value), f"{name}: {key} is a literal, not ${{VAR}}"
                assert ":-" not in value and "-}" not in value, f"{name}: {key} has a default"
                assert _VAR.sub("", value) in ("", "admin:"), f"{name}: {key}={value!r}"


def test_every_variable_is_one_the_generator_writes(compose: dict[str, Any]) -> None:
    used = {var for value in _strings(compose) for var in _VAR.findall(value)}
    used |= {s["environment"] for s in compose["secrets"].values()}
    assert used <= set(ENV_KEYS), sorted(used - set(ENV_KEYS))
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_elasticsearch_runs_secured_with_tls(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["elasticsearch"])
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert env["xpack.security.transport.ssl.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if key in ("NEWSFLOW_ES_URL", "ELASTICSEARCH_HOSTS"):
                assert "https://" in value and "http://elasticsearch" not in value, name


def test_kibana_connects_as_kibana_system_over_tls(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["kibana"])
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert env["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_SYSTEM_PASSWORD")
    assert env["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"].endswith("ca.crt")


def test_kafka_listens_only_with_sasl_ssl_and_enforces_acls() -> None:
    script = (REPO / "stack" / "security" / "kafka-start.sh").read_text()
    listeners = re.search(r"^listeners=(.*)$", script, re.M)
    assert listeners is not None
    for listener in listeners.group(1).split(","):
        protocol, _, address = listener.partition("://")
        assert protocol == "SASL_SSL" or address.startswith("127.0.0.1:"), listener
    assert "sasl.enabled.mechanisms=SCRAM-SHA-512" in script
    assert "allow.everyone.if.no.acl.found=false" in script
    assert "StandardAuthorizer" in script


def test_each_stage_has_its_own_kafka_user_and_least_es_role(compose: dict[str, Any]) -> None:
    services = compose["services"]
    users = set()
    for stage in STAGES:
        env = _env(services[stage])
        assert env["NEWSFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["NEWSFLOW_KAFKA_USERNAME"] == stage
        users.add(env["NEWSFLOW_KAFKA_USERNAME"])
        targets = {s["target"]: s["source"] for s in services[stage]["secrets"]}
        assert targets["newsflow_kafka_password"] == f"kafka_{stage}_password"
        role = env["NEWSFLOW_ES_USERNAME"]
        assert role == ("newsflow_writer" if stage in ("dedup", "stories", "index")
                        else "newsflow_reader")
        assert not any(_SECRET_KEY.search(k) and not k.startswith("PREFECT") for k in env), stage
    assert len(users) == len(STAGES)
    acls = (REPO / "stack" / "security" / "kafka-acls.sh").read_text()
    for stage in STAGES:
        assert re.search(rf"^stage {stage} ", acls, re.M), f"no ACLs for {stage}"


def test_prefect_api_requires_basic_auth(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert _env(services["prefect"])["PREFECT_SERVER_API_AUTH_STRING"].startswith(
        "admin:${PREFECT_AUTH_PASSWORD")
    for stage in STAGES:
        assert "PREFECT_API_AUTH_STRING" in _env(services[stage])


def test_published_ports_are_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"
    assert "ports" not in compose["services"]["kafka"]  # only the compose network reaches it
