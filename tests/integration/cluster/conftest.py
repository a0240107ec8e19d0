"""The cluster suite's own three-host stack (``newsflow stack up --nodes 3`` on ports of its
own, below Linux's ephemeral range 32768-60999, where a client's local port could take one
while a killed service is down): brokers 127.0.0.1:29092/94/96, Elasticsearch 29200-29202,
CoreNLP 29000-29002, one Prefect server on 24200; data and logs in ``<repo>/.stack-cluster``
(git-ignored). Started for the suite, stopped after it. Each test gets its own topics, groups,
index and Prefect work pool, and the three hosts' Prefect workers for that pool.

Run it alone with ``pytest -m cluster``. ``NEWSFLOW_CLUSTER_ARTICLES`` sets the articles per
scenario (default 3,000, as the issue asks).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from newsflow import stack
from newsflow.config import Settings, load_settings
from newsflow.stack import cluster, prefect_workers
from tests.integration.cluster import hosts as cluster_hosts
from tests.integration.conftest import REPO
from workers.io import elastic, kafka_admin

NODES = 3
# Given to the settings, never put in os.environ: the rest of the session (and the processes
# it starts) keeps talking to the shared stack.
CLUSTER_STACK = {
    "stack_dir": REPO / ".stack-cluster",
    "kafka_bootstrap": "127.0.0.1:29092",
    "es_url": "http://127.0.0.1:29200",
    "corenlp_url": "http://127.0.0.1:29000",
    "prefect_api_url": "http://127.0.0.1:24200/api",
    # Three of each on one 2-core machine next to the shared stack: smaller heaps (the
    # memory each takes is in docs/operations.md).
    "es_heap": "512m",
    "kafka_heap": "384m",
}


def articles_per_scenario() -> int:
    return int(os.environ.get("NEWSFLOW_CLUSTER_ARTICLES", "3000"))


@pytest.fixture(scope="module")
def cluster_stack() -> Iterator[Settings]:
    """Three hosts, started once for the module and stopped after it. The test's own clients
    (publishing, counting, auditing) meet the killed nodes too: their connection errors are
    expected and would bury the report, so they log errors only."""
    logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = load_settings(**CLUSTER_STACK)
    try:
        stack.up(settings, nodes=NODES, timeout=600)
    except stack.StackError as exc:
        pytest.fail(f"the cluster suite's three hosts did not start: {exc}", pytrace=False)
    wide = cluster.widen(settings, NODES)
    try:
        with temporary_settings(updates={PREFECT_API_URL: settings.prefect_api_url}):
            yield wide
    finally:
        prefect_workers.stop_all(wide)
        stack.down(wide, nodes=NODES)


@pytest.fixture
def cluster_pipeline(cluster_stack: Settings) -> Iterator[Settings]:
    """A pipeline of its own on the three hosts: topics (RF 3), index (1 replica), a work pool
    with each host's Prefect worker, the deployments, and 2 runs of each stage."""
    tag = uuid.uuid4().hex[:10]
    settings = cluster_stack.model_copy(update={
        "topic_prefix": f"news-c{tag}", "group_prefix": f"newsflow-c{tag}",
        "es_alias": f"news-c{tag}", "work_pool": f"newsflow-c{tag}", "batch_size": 50,
        # Lowered so that "too large" poison stays small; real articles are far below it.
        "max_message_bytes": 64 * 1024,
    })
    kafka_admin.ensure_topics(settings)
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    try:
        cluster_hosts.deploy(settings, replicas=2)
        yield settings
    finally:
        print(cluster_hosts.worker_log_tails(settings))
        # A test may end with a host down: its services come back (before the Prefect
        # workers of this test's pool are stopped, so that none is started again).
        stack.up(settings, nodes=NODES, timeout=600)
        cluster_hosts.undeploy(settings)
        elastic.drop_index(elastic.client(settings), settings)
        kafka_admin.delete_topics(settings)


@pytest.fixture
def rate(cluster_pipeline: Settings) -> Iterator[cluster_hosts.Throughput]:
    """The test pipeline's index size sampled every second, for articles/s before, during and
    after a fault."""
    with cluster_hosts.Throughput(cluster_pipeline) as sampler:
        yield sampler
