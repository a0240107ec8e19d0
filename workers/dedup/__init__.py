"""The dedup stage: clean articles in, each placed in a story cluster out (docs/stages/dedup.md).

``stage`` decides each batch; ``fingerprint`` makes what is compared, ``store`` holds the
state types and the in-memory store, ``es_store`` the state shared by replicas in Elasticsearch.
"""

from workers.dedup.stage import build

__all__ = ["build"]
