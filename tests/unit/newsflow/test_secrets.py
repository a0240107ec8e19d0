"""Credentials: read as SecretStr from env and secret files, never shown, passed to clients;
and the first-setup .env generator."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from newsflow import secrets as nf_secrets
from newsflow.config import Settings, load_settings
from workers.io.auth import es_client_options, kafka_client_options
from workers.settings import settings_env
from workers.topology import STAGES

PASSWORD = "s3cr3t-Pa55-for-tests"


def test_passwords_come_from_the_environment_as_secretstr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSFLOW_ES_USERNAME", "newsflow_writer")
    monkeypatch.setenv("NEWSFLOW_ES_PASSWORD", PASSWORD)
    monkeypatch.setenv("NEWSFLOW_KAFKA_PASSWORD", PASSWORD + "-k")
    settings = load_settings()
    assert isinstance(settings.es_password, SecretStr)
    assert settings.es_password.get_secret_value() == PASSWORD
    assert settings.kafka_password is not None
    assert settings.kafka_password.get_secret_value() == PASSWORD + "-k"
    # Everything that shows settings shows the mask, not the value.
    for shown in (repr(settings), str(settings), settings.model_dump_json(),
                  str(settings.model_dump())):
        assert PASSWORD not in shown
        assert "**********" in shown


def test_passwords_come_from_secret_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "newsflow_es_password").write_text(PASSWORD)
    (tmp_path / "newsflow_kafka_password").write_text(PASSWORD + "-k")
    monkeypatch.setenv("NEWSFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("NEWSFLOW_ES_PASSWORD", raising=False)
    settings = load_settings()
    assert settings.es_password is not None
    assert settings.es_password.get_secret_value() == PASSWORD
    assert settings.kafka_password is not None
    assert settings.kafka_password.get_secret_value() == PASSWORD + "-k"


def test_credentials_in_endpoint_urls_are_refused() -> None:
    with pytest.raises(ValidationError, match="credentials in an endpoint URL") as caught:
        Settings(es_url=f"https://elastic:{PASSWORD}@es.example:9200")
    assert PASSWORD not in str(caught.value)  # hide_input_in_errors: the value is not echoed


def test_validation_errors_never_echo_a_secret_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(es_password=["not", PASSWORD])  # type: ignore[arg-type]
    assert PASSWORD not in str(caught.value)


def test_no_credentials_means_no_auth_options() -> None:
    settings = Settings()
    assert es_client_options(settings) == {}
    assert kafka_client_options(settings) == {}


def test_client_options_carry_the_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    settings = Settings(es_username="newsflow_reader", es_password=SecretStr(PASSWORD),
                        es_ca_certs=ca, kafka_security_protocol="SASL_SSL",
                        kafka_username="newsflow-clean", kafka_password=SecretStr("k-pass"),
                        kafka_ssl_cafile=ca)
    assert es_client_options(settings) == {
        "basic_auth": ("newsflow_reader", PASSWORD), "ca_certs": str(ca)}
    assert kafka_client_options(settings) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "newsflow-clean", "sasl_plain_password": "k-pass",
        "ssl_cafile": str(ca)}


def test_sasl_without_credentials_is_an_error_naming_the_variables() -> None:
    with pytest.raises(ValueError, match="NEWSFLOW_KAFKA_USERNAME"):
        kafka_client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT"))


def test_credentials_set_without_sasl_are_not_sent() -> None:
    settings = Settings(kafka_username="u", kafka_password=SecretStr("p"))
    assert kafka_client_options(settings) == {}


def test_settings_env_passes_real_secrets_to_children_and_leaves_out_unset() -> None:
    env = settings_env(Settings(es_username="w", es_password=SecretStr(PASSWORD)))
    assert env["NEWSFLOW_ES_PASSWORD"] == PASSWORD  # not the '*****' mask
    assert "NEWSFLOW_KAFKA_PASSWORD" not in env  # not the string "None"
    assert env["NEWSFLOW_ES_URL"] == "http://127.0.0.1:9200"


# --- the .env generator ---------------------------------------------------------------------


def test_init_writes_every_key_with_a_strong_random_value_mode_0600(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    result = CliRunner().invoke(nf_secrets.app, ["--env-file", str(env_file), "init"])
    assert result.exit_code == 0, result.output
    values = nf_secrets.read_env(env_file)
    assert set(values) == set(nf_secrets.ENV_KEYS)
    assert len(set(values.values())) == len(values)  # all different
    assert all(len(v) >= 32 for v in values.values())
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_init_keeps_existing_values_and_rotate_replaces_only_the_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ELASTIC_PASSWORD=kept-value-1234567890\nOTHER=untouched\n")
    nf_secrets.write_env(env_file)
    first = nf_secrets.read_env(env_file)
    assert first["ELASTIC_PASSWORD"] == "kept-value-1234567890"
    assert first["OTHER"] == "untouched"
    assert nf_secrets.write_env(env_file) == []  # second init: nothing to add
    changed = nf_secrets.write_env(env_file, rotate=("KAFKA_CLEAN_PASSWORD",))
    second = nf_secrets.read_env(env_file)
    assert changed == ["KAFKA_CLEAN_PASSWORD"]
    assert second["KAFKA_CLEAN_PASSWORD"] != first["KAFKA_CLEAN_PASSWORD"]
    assert {k: v for k, v in second.items() if k != "KAFKA_CLEAN_PASSWORD"} == {
        k: v for k, v in first.items() if k != "KAFKA_CLEAN_PASSWORD"}


def test_the_generator_prints_key_names_never_values(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    out = CliRunner().invoke(nf_secrets.app, ["--env-file", str(env_file), "init"]).output
    assert "ELASTIC_PASSWORD" in out
    assert not any(v in out for v in nf_secrets.read_env(env_file).values())


def test_rotate_refuses_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown key"):
        nf_secrets.write_env(tmp_path / ".env", rotate=("NOPE",))
    env_file = tmp_path / ".env"
    result = CliRunner().invoke(nf_secrets.app, ["--env-file", str(env_file), "rotate",
                                                 "ELASTIC_PASSWORD", "NOPE"])
    assert result.exit_code == 2  # a usage error, nothing written
    assert "unknown key(s) ['NOPE']" in result.output
    assert not env_file.exists()


def test_rotate_replaces_the_named_keys_from_the_command_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    nf_secrets.write_env(env_file)
    before = nf_secrets.read_env(env_file)
    result = CliRunner().invoke(nf_secrets.app, ["--env-file", str(env_file), "rotate",
                                                 "ES_READER_PASSWORD", "KAFKA_INDEX_PASSWORD"])
    assert result.exit_code == 0, result.output
    assert "2 value(s) written: ES_READER_PASSWORD, KAFKA_INDEX_PASSWORD" in result.output
    after = nf_secrets.read_env(env_file)
    assert {k for k in after if after[k] != before[k]} == {"ES_READER_PASSWORD",
                                                          "KAFKA_INDEX_PASSWORD"}


def test_every_stage_has_its_own_kafka_user() -> None:
    assert set(STAGES) <= set(nf_secrets.KAFKA_USERS)


def test_settings_env_round_trips_every_setting_through_the_environment(monkeypatch):
    """A child process must load exactly the settings its parent passes it (dicts as JSON)."""
    from newsflow.config import Settings
    from workers.settings import settings_env

    parent = Settings(spacy_models={"fr": "fr_core_news_sm", "de": "de_core_news_sm"},
                      topic_prefix="news-x", batch_size=7)
    for name, value in settings_env(parent).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.spacy_models == parent.spacy_models
    assert child.model_dump() == parent.model_dump()
