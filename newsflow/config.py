"""The CLI's settings: the flows', plus the local stack's JVM heaps. Loaded once by ``newsflow``.

Every field is ``NEWSFLOW_<FIELD>`` in the environment (or ``.env``, or a secret file); the
layers below define most of them (``workers.settings``, ``flows.settings``).
"""

from __future__ import annotations

from pydantic import Field

from flows.settings import FlowSettings
from workers.settings import env_var, load, settings_env

__all__ = ["Settings", "env_var", "load_settings", "settings_env"]


class Settings(FlowSettings):
    kafka_heap: str = Field("512m", description="local Kafka broker JVM heap")
    es_heap: str = Field("1g", description="local Elasticsearch JVM heap")
    corenlp_heap: str = Field("512m", description="local CoreNLP server JVM heap")


def load_settings(**overrides: object) -> Settings:
    """The CLI's settings (see :func:`workers.settings.load`)."""
    return load(Settings, **overrides)
