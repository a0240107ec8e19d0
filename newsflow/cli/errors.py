"""Errors a user causes or can fix, as one line: a service down, a topic missing.

In: the exception a command raised. Out: the line to print instead of its traceback, or None
for every other error, which keeps its traceback (``newsflow.cli.run`` decides).
"""

from __future__ import annotations

HINT = ("\nIs it running? `newsflow stack status` shows what runs; `newsflow stack up` "
        "starts the local stack.")


def explain(error: Exception) -> str | None:
    """One line for the errors a user causes or can fix (a service down, a topic missing);
    None for the rest, which keep their traceback."""
    from elastic_transport import ConnectionError as EsConnectionError
    from elastic_transport import ConnectionTimeout as EsConnectionTimeout
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from workers.io.kafka_admin import MissingTopicError

    name, text = type(error).__name__, str(error)
    cause = text if text.startswith(name) else f"{name}: {text}"  # kafka's name themselves
    if isinstance(error, EsConnectionError | EsConnectionTimeout):
        return f"cannot reach Elasticsearch: {cause}{HINT}"
    if isinstance(error, KafkaConnectionError) or (
        isinstance(error, KafkaTimeoutError) and "bootstrap" in text
    ):
        return f"cannot reach Kafka: {cause}{HINT}"
    if isinstance(error, MissingTopicError):
        return text
    # Prefect's client raises a bare RuntimeError, the connection error as its cause.
    if isinstance(error, RuntimeError) and text.startswith("Failed to reach API at"):
        why = error.__cause__
        detail = f" ({type(why).__name__}: {why})" if why else ""
        return (f"cannot reach Prefect: {error}{detail}{HINT} `newsflow publish --no-prefect` "
                "publishes without recording a flow run.")
    return None
