"""Client options from the credential settings: Elasticsearch and kafka-python keyword arguments.

In: the settings' ``es_username``/``es_password``/``es_ca_certs`` and ``kafka_*`` fields. Out:
keyword arguments for the client constructors. With nothing set they return no authentication,
which is what the local native stack (loopback only) expects. Passwords stay
:class:`~pydantic.SecretStr` until this point and are revealed only into a client's
constructor, never into a log line or a message.
"""

from __future__ import annotations

from typing import Any

from workers.settings import WorkerSettings


def es_client_options(settings: WorkerSettings) -> dict[str, Any]:
    """Keyword arguments for ``elasticsearch.Elasticsearch`` (auth and TLS), {} when unset."""
    options: dict[str, Any] = {}
    if settings.es_username is not None and settings.es_password is not None:
        options["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs is not None:
        options["ca_certs"] = str(settings.es_ca_certs)
    return options


def kafka_client_options(settings: WorkerSettings) -> dict[str, Any]:
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
