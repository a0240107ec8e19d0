"""Where a service of the local stack listens: host and port from its endpoint setting.

In: the setting's value (``host:port`` for Kafka, an ``http://`` URL for the others). Out: an
:class:`Endpoint`, or :class:`~newsflow.stack.errors.StackError` saying what is wrong with the
setting. The stack has no authentication, so :func:`loopback_only` refuses to bind anywhere
but loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsflow.stack.errors import StackError
from workers.settings import env_var


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def url_host(self) -> str:  # IPv6 literals need brackets in URLs and Kafka listeners
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def address(self) -> str:
        return f"{self.url_host}:{self.port}"


def parse(service: str, setting: str, value: str, *, url: bool, default_port: int) -> Endpoint:
    """Host and port of ``service`` from its ``setting``'s ``value``.

    ``url``: the value is an http URL (Elasticsearch, Prefect, CoreNLP); else one Kafka
    ``host:port`` (the local stack runs one broker)."""
    if url:
        parts = urlsplit(value)
        if parts.scheme != "http":
            raise StackError(f"{service}: the local stack serves plain http, not {value!r}")
    else:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if len(servers) != 1:
            raise StackError(
                f"the local stack runs one Kafka broker, but {env_var(setting)} is "
                f"{value!r}: give a single host:port"
            )
        parts = urlsplit(f"//{servers[0]}")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise StackError(f"{service}: bad port in its endpoint setting: {exc}") from None
    return Endpoint(parts.hostname or "127.0.0.1", port)


def loopback_only(service: str, ep: Endpoint) -> Endpoint:
    """The address to bind ``service`` to; refuses anything but loopback."""
    if ep.host == "localhost":
        return Endpoint("127.0.0.1", ep.port)
    try:
        loopback = ipaddress.ip_address(ep.host).is_loopback
    except ValueError:  # a host name: resolving it would not make it safe
        loopback = False
    if not loopback:
        raise StackError(
            f"{service}: refusing to bind to {ep.host!r}: the local stack has no authentication "
            "and only listens on loopback (127.0.0.0/8, ::1, localhost). Point the endpoint "
            "settings at 127.0.0.1 to run it here."
        )
    return ep


def port_in_use(ep: Endpoint) -> bool:
    """Something accepts connections at ``ep`` (whatever it is)."""
    try:
        with socket.create_connection((ep.host, ep.port), timeout=1):
            return True
    except OSError:
        return False
