"""A second, secured Elasticsearch node for the security tests (not the shared local stack).

The shared stack runs with ``xpack.security.enabled: false`` (loopback only). The Maven Central
zip carries the ``x-pack-security`` module, so the same distribution can also run secured: this
helper starts it in its own stack folder (``<repo>/.stack-secure``, git-ignored) on its own
ports, with

* HTTP TLS from a throw-away CA and server certificate made here with ``cryptography``
  (already installed as a Prefect dependency; ``bin/elasticsearch-certutil`` would need a JVM
  start per certificate and a zip to unpack for the same two PEM files),
* the ``elastic`` superuser's password set through the keystore's ``bootstrap.password``,
* the roles of ``stack/security/es-roles.json`` and one user per role, in the file realm
  (``roles.yml``, ``elasticsearch-users``; see the comment in :func:`start` for why).

Everything is made fresh per test session (new passwords, empty data), and the node is stopped
at the end. Reuses :mod:`newsflow.stack` for the download, the root-drop and the process.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from elasticsearch import Elasticsearch

from newsflow import stack
from newsflow.config import Settings
from newsflow.stack import processes, services
from newsflow.stack.commands import ES_UID, as_es_user, render
from newsflow.stack.paths import STACK_FILES, Paths

REPO = Path(__file__).resolve().parents[2]
SECURE_DIR = REPO / ".stack-secure"
HTTP_PORT = 29210  # beside the cluster suite's nodes (29200-29202, transport 29300-29302)
TRANSPORT_PORT = 29310
ROLES_FILE = REPO / "stack" / "security" / "es-roles.json"
USERS = {"newsflow_admin": "newsflow_admin", "newsflow_writer": "newsflow_writer",
         "newsflow_reader": "newsflow_reader"}  # user -> role


class SecureNodeError(RuntimeError):
    """The secured node could not be started; the message says why (the test fails with it)."""


@dataclass(frozen=True)
class SecureNode:
    url: str
    ca_cert: Path
    passwords: dict[str, str]  # user -> password, "elastic" included

    def client(self, user: str) -> Elasticsearch:
        return Elasticsearch(self.url, ca_certs=str(self.ca_cert), request_timeout=30,
                             basic_auth=(user, self.passwords[user]))


def _write_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsflow test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "http.crt", folder / "http.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


# Replaces the template's `xpack.security.enabled: false` line.
_SECURITY_YML = f"""xpack.security.enabled: true
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.certificate: certs/http.crt
xpack.security.http.ssl.key: certs/http.key
transport.port: {TRANSPORT_PORT}
"""


def start(base: Settings, timeout: float = 240) -> SecureNode:
    settings = base.model_copy(update={
        "stack_dir": SECURE_DIR, "es_url": f"http://127.0.0.1:{HTTP_PORT}", "es_heap": "512m"})
    paths = Paths.of(settings)
    stop()  # a node left over from an interrupted session: its passwords are unknown
    stack.ensure_artifacts(settings, ["elasticsearch"])
    # Fresh config and data each session: bootstrap.password only applies to an empty node.
    for folder in (paths.es_conf, paths.es / "data", paths.es / "tmp", paths.es_logs,
                   paths.es_snapshots):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    shutil.copytree(paths.es_home / "config", paths.es_conf, dirs_exist_ok=True)
    ep = services.bind_host(settings, "elasticsearch")
    render(STACK_FILES / "elasticsearch" / "elasticsearch.yml",
           paths.es_conf / "elasticsearch.yml", host=ep.host, port=ep.port,
           node_name="newsflow-secure", discovery="discovery.type: single-node",
           data=paths.es / "data", logs=paths.es_logs, snapshots=paths.es_snapshots)
    yml = (paths.es_conf / "elasticsearch.yml").read_text()
    if "xpack.security.enabled: false\n" not in yml:
        raise SecureNodeError("stack/elasticsearch/elasticsearch.yml has no "
                              "'xpack.security.enabled: false' line to replace")
    (paths.es_conf / "elasticsearch.yml").write_text(
        yml.replace("xpack.security.enabled: false\n", _SECURITY_YML))
    ca_cert, _, _ = _write_certs(paths.es_conf / "certs")
    # Roles and users in files (the file realm), not through the security API: the native realm
    # keeps them in the .security index, whose mapping needs the `pattern_capture` filter of the
    # analysis-common module, which this zip lacks. The role bodies are the same JSON the compose
    # setup sends to the API; roles.yml takes them as YAML.
    roles = json.loads(ROLES_FILE.read_text())
    roles.pop("_comment")
    (paths.es_conf / "roles.yml").write_text(yaml.safe_dump(roles))

    java_home = stack.find_java_home("elasticsearch")
    if os.geteuid() == 0:  # ES runs as uid 65534: it must own what it reads (the key is 0600)
        for root, dirs, files in os.walk(paths.es):
            if Path(root).is_relative_to(paths.es_home):
                continue
            for name in [*dirs, *files]:
                os.lchown(Path(root) / name, ES_UID, ES_UID)
        for folder in (paths.es_conf, paths.es / "data", paths.es / "tmp", paths.es_logs,
                   paths.es_snapshots):
            os.lchown(folder, ES_UID, ES_UID)
    prefix = as_es_user(paths, java_home)
    env = {**os.environ, "ES_JAVA_HOME": str(java_home), "ES_PATH_CONF": str(paths.es_conf),
           "ES_TMPDIR": str(paths.es / "tmp"),
           "ES_JAVA_OPTS": f"-Xms{settings.es_heap} -Xmx{settings.es_heap}"}
    passwords = {"elastic": secrets.token_urlsafe(18)}
    keystore = str(paths.es_home / "bin" / "elasticsearch-keystore")
    users = str(paths.es_home / "bin" / "elasticsearch-users")
    commands: list[tuple[list[str], str | None]] = [
        ([keystore, "create"], None),
        ([keystore, "add", "-x", "-f", "bootstrap.password"], passwords["elastic"])]
    for user, role in USERS.items():
        passwords[user] = secrets.token_urlsafe(18)
        # -p on the command line: visible in `ps` for a moment; fine for throw-away test users.
        commands.append(([users, "useradd", user, "-p", passwords[user], "-r", role], None))
    for args, stdin in commands:
        done = subprocess.run([*prefix, *args], env=env, input=stdin, text=True,
                              capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise SecureNodeError(
                f"{Path(args[0]).name} {args[1]} failed: {done.stdout}{done.stderr}")

    processes.start("elasticsearch", [*prefix, str(paths.es_home / "bin" / "elasticsearch")],
                    run_dir=paths.run, log_path=paths.log("elasticsearch"), env=env,
                    cwd=paths.es_logs)
    node = SecureNode(f"https://127.0.0.1:{HTTP_PORT}", ca_cert, passwords)
    admin = node.client("elastic")
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            if admin.cluster.health(wait_for_status="yellow", timeout="1s")["status"] in (
                    "green", "yellow"):
                break
        except Exception as exc:  # not up yet (connection refused, 503, ...)
            last = f"{type(exc).__name__}: {exc}"
        if processes.pid_of("elasticsearch", paths.run) is None:
            raise SecureNodeError("the secured node exited while starting; end of "
                                  f"{paths.log('elasticsearch')}:\n"
                                  + processes.log_tail(paths.log("elasticsearch"), 30))
        if time.monotonic() > deadline:
            raise SecureNodeError(f"the secured node is not healthy after {timeout:.0f}s "
                                  f"({last}); see {paths.log('elasticsearch')}")
        time.sleep(1)

    return node


def stop() -> None:
    processes.stop("elasticsearch", SECURE_DIR / "run", timeout=60)
