"""The local native stack: Kafka, Elasticsearch, Prefect and CoreNLP as plain processes on
127.0.0.1, for ``newsflow stack up|down|status|clean`` and the test fixtures.

No Docker: the services are fetched from Maven Central (:mod:`.artifacts`, versions in
:mod:`.pins`) and run on the newest fitting JDK (:mod:`.java`) as background processes
(:mod:`.processes`); :mod:`.services` has the table of what runs, :mod:`.cluster` how N hosts
share one machine, :mod:`.paths` where its files live, :mod:`.lifecycle` the functions below,
:mod:`.prefect_workers` each host's Prefect worker, :mod:`.hosts` a whole host killed at once.
"""

from __future__ import annotations

from newsflow.stack.cluster import recorded_nodes, widen
from newsflow.stack.errors import StackError
from newsflow.stack.java import find_java_home
from newsflow.stack.lifecycle import ServiceStatus, down, ensure_artifacts, remove, status, up
from newsflow.stack.pins import CORENLP_MODELS, ES_VERSION
from newsflow.stack.prefect_workers import status as prefect_worker_status
from newsflow.stack.services import SERVICES, healthy

__all__ = [
    "CORENLP_MODELS",
    "ES_VERSION",
    "SERVICES",
    "ServiceStatus",
    "StackError",
    "down",
    "ensure_artifacts",
    "find_java_home",
    "healthy",
    "prefect_worker_status",
    "recorded_nodes",
    "remove",
    "status",
    "up",
    "widen",
]
