"""Credentials: client options built from the settings, and first-setup password generation.

Two jobs, both small:

* :func:`es_client_options` and :func:`kafka_client_options` turn the credential settings
  (``NEWSFLOW_ES_USERNAME``/``_PASSWORD``, ``NEWSFLOW_KAFKA_USERNAME``/``_PASSWORD``, CA files)
  into keyword arguments for the Elasticsearch and kafka-python clients. With nothing set they
  return no authentication, which is what the local native stack (loopback only) expects.
  Passwords stay :class:`~pydantic.SecretStr` until this point and are revealed only into the
  client's constructor, never into a log line or a message.
* ``python -m newsflow.secrets init`` writes the git-ignored ``.env`` that docker-compose.yml
  reads: one random password per account (Elasticsearch users, the Kafka SCRAM user of each
  stage, Prefect's basic auth). Existing values are kept, so running it again is harmless;
  ``rotate NAME...`` replaces the named ones (then restart/re-apply, see the README).
  ``es-setup`` is compose's one-shot that creates the Elasticsearch roles and users.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from newsflow.config import Settings

# The Kafka SCRAM users, one per pipeline stage plus the publisher and the admin (topics, ACLs).
# Kept here rather than derived from workers.topology so this module stays import-light; a unit
# test checks the two agree.
KAFKA_USERS: tuple[str, ...] = ("admin", "publisher", "clean", "dedup", "entities", "index")

# Every variable docker-compose.yml reads from .env. Values are generated, never defaults.
ENV_KEYS: tuple[str, ...] = (
    "ELASTIC_PASSWORD",  # the built-in superuser: only the one-shot setup service uses it
    "KIBANA_SYSTEM_PASSWORD",  # built-in kibana_system: Kibana's own connection to ES
    "KIBANA_ENCRYPTION_KEY",  # xpack.encryptedSavedObjects.encryptionKey (32+ chars)
    "ES_ADMIN_PASSWORD",  # ES user newsflow_admin: creates indices and the alias (init)
    "ES_WRITER_PASSWORD",  # ES user newsflow_writer: the dedup and index workers
    "ES_READER_PASSWORD",  # ES user newsflow_reader: search, Kibana users
    *(f"KAFKA_{user.upper()}_PASSWORD" for user in KAFKA_USERS),
    "KAFKA_KEYSTORE_PASSWORD",  # the broker's PKCS#12 keystore (made by the certs service)
    "PREFECT_AUTH_PASSWORD",  # PREFECT_SERVER_API_AUTH_STRING = admin:<this>
)


def es_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``elasticsearch.Elasticsearch`` (auth and TLS), {} when unset."""
    options: dict[str, Any] = {}
    if settings.es_username is not None and settings.es_password is not None:
        options["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs is not None:
        options["ca_certs"] = str(settings.es_ca_certs)
    return options


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (producer, consumer, admin).

    PLAINTEXT (the default) returns {}: credentials set without a SASL protocol are not sent.
    """
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        if settings.kafka_username is None or settings.kafka_password is None:
            raise ValueError(
                f"kafka_security_protocol={protocol} needs NEWSFLOW_KAFKA_USERNAME and "
                "NEWSFLOW_KAFKA_PASSWORD (or the secret file newsflow_kafka_password)"
            )
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_username
        options["sasl_plain_password"] = settings.kafka_password.get_secret_value()
    if settings.kafka_ssl_cafile is not None:
        options["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return options


# --- first set-up: the .env of docker-compose.yml ------------------------------------------


def new_password() -> str:
    """32 URL-safe characters (192 bits) from the OS's CSPRNG: no quoting needed anywhere."""
    return secrets.token_urlsafe(24)


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines ignored)."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def write_env(path: Path, rotate: tuple[str, ...] = ()) -> list[str]:
    """Fill ``path`` with a password for every key in :data:`ENV_KEYS` that has none.

    Keys in ``rotate`` get a new value even if they have one. Other lines of the file are kept.
    The file is created mode 0600. Returns the keys written (names only: never print values).
    """
    unknown = sorted(set(rotate) - set(ENV_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; known: {', '.join(ENV_KEYS)}")
    values = read_env(path)
    changed = [k for k in ENV_KEYS if k in rotate or not values.get(k)]
    for key in changed:
        values[key] = new_password()
    lines = [
        "# Generated by `python -m newsflow.secrets init`: passwords for docker-compose.yml.",
        "# Git-ignored; never commit it. Rotate with `python -m newsflow.secrets rotate KEY`.",
        *(f"{k}={v}" for k, v in values.items()),
    ]
    # Create with 0600 from the start (no window in which the file is world-readable).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return changed


# --- compose set-up: Elasticsearch users and roles -----------------------------------------

ROLES_FILE = Path(__file__).resolve().parent.parent / "stack" / "security" / "es-roles.json"
# ES user -> (its role, the .env variable holding its password)
ES_USERS: dict[str, tuple[str, str]] = {
    "newsflow_admin": ("newsflow_admin", "ES_ADMIN_PASSWORD"),
    "newsflow_writer": ("newsflow_writer", "ES_WRITER_PASSWORD"),
    "newsflow_reader": ("newsflow_reader", "ES_READER_PASSWORD"),
}


def es_roles(path: Path = ROLES_FILE) -> dict[str, Any]:
    """The role bodies of stack/security/es-roles.json (PUT _security/role/<name>)."""
    roles: dict[str, Any] = json.loads(path.read_text())
    roles.pop("_comment", None)
    return roles


def es_setup(url: str, ca_certs: str, env: dict[str, str], roles_file: Path = ROLES_FILE,
             timeout: float = 300) -> None:
    """Compose's one-shot ``es-setup``: kibana_system's password, the roles, the users.

    Runs as the ``elastic`` superuser (``ELASTIC_PASSWORD``), the only place it is used.
    Idempotent: PUT overwrites roles and users with the same content and passwords.
    """
    from elasticsearch import Elasticsearch

    es = Elasticsearch(url, ca_certs=ca_certs, request_timeout=30,
                       basic_auth=("elastic", env["ELASTIC_PASSWORD"]))
    deadline = time.monotonic() + timeout
    while True:
        try:
            es.cluster.health(wait_for_status="yellow", timeout="5s")
            break
        except Exception as exc:  # not up yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready: {type(exc).__name__}") from None
            time.sleep(3)
    es.security.change_password(username="kibana_system",
                                password=env["KIBANA_SYSTEM_PASSWORD"])
    roles = es_roles(roles_file)
    for name, body in roles.items():
        es.security.put_role(name=name, **body)
    for user, (role, key) in ES_USERS.items():
        es.security.put_user(username=user, password=env[key], roles=[role])
    print(f"roles {', '.join(roles)} and users {', '.join(ES_USERS)} ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsflow.secrets",
        description="Generate the passwords docker-compose.yml reads from a git-ignored .env.",
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="add a random password for every missing key (keeps others)")
    rot = sub.add_parser("rotate", help="replace the named keys with new random passwords")
    rot.add_argument("keys", nargs="+", choices=ENV_KEYS, metavar="KEY")
    setup = sub.add_parser("es-setup", help="compose: create the ES roles and users "
                           "(passwords from the environment, i.e. .env)")
    setup.add_argument("--es-url", default="https://elasticsearch:9200")
    setup.add_argument("--ca-certs", default="/certs/ca/ca.crt")
    setup.add_argument("--roles", type=Path, default=ROLES_FILE)
    args = parser.parse_args(argv)
    if args.command == "es-setup":
        es_setup(args.es_url, args.ca_certs, dict(os.environ), args.roles)
        return 0
    changed = write_env(args.env_file, tuple(args.keys) if args.command == "rotate" else ())
    print(f"{args.env_file}: {len(changed)} value(s) written: {', '.join(changed) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
