"""Real failures while articles flow, on the suite's own stack (see conftest.py): after each,
every good article is indexed exactly once and every poison message is dead-lettered with its
reason, nothing else (``check_books``)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from newsflow import stack
from newsflow.audit import audit
from newsflow.stack import processes
from tests.integration.conftest import Pipeline, wait_for
from tests.integration.faults.conftest import articles_per_scenario
from tests.integration.faults.corpus import Corpus, check_books, make_corpus, progress, publish
from workers.topology import STAGES

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def _flow(pipeline: Pipeline, fault: Callable[[Corpus], None]) -> None:
    """Publish half, start the workers, wait for the first documents, then inject the fault
    while the second half is published; then wait and check the books."""
    settings = pipeline.settings
    n = articles_per_scenario()
    corpus = make_corpus(settings.topic_prefix, n, settings.max_message_bytes)
    half = len(corpus.messages) // 2
    publish(settings, corpus.messages[:half])
    pipeline.start()
    wait_for(lambda: progress(settings) > 0, timeout=300, what="the first documents")
    # The rest is published during the fault (a broker that is down is waited out).
    rest = threading.Thread(target=publish, args=(settings, corpus.messages[half:]))
    rest.start()
    fault(corpus)
    rest.join(timeout=300)
    assert not rest.is_alive(), "publishing the second half hung"
    print(f"after the fault: {progress(settings)} of {len(corpus.good_ids)} indexed")

    def done() -> bool:
        if progress(settings) < len(corpus.good_ids):
            return False
        rec = audit(settings).reconciliation
        return rec is not None and rec.balanced

    # Generous: on 2 shared cores the pipeline runs a few articles a second.
    wait_for(done, timeout=300 + n * 1.0, interval=3, what="balanced books")
    check_books(settings, corpus)


def test_kill_9_a_worker_mid_batch_and_restart(fault_pipeline: Pipeline) -> None:
    def fault(corpus: Corpus) -> None:
        for stage in ("entities", "clean", "index"):
            [proc] = [p for p in fault_pipeline.workers
                      if p.args[-1] == stage and p.poll() is None]
            proc.send_signal(signal.SIGKILL)  # no chance to commit: its batch is redone
            proc.wait(timeout=30)
            time.sleep(2)
            fault_pipeline.start_worker(stage)

    _flow(fault_pipeline, fault)


def _stop_service(pipeline: Pipeline, service: str, seconds: float) -> None:
    settings = pipeline.settings
    assert processes.stop(service, settings.stack_dir.resolve() / "run"), f"{service} not ours"
    time.sleep(seconds)
    stack.up(settings, services=(service,), timeout=300)


def test_kafka_broker_down_for_20_seconds(fault_pipeline: Pipeline) -> None:
    _flow(fault_pipeline, lambda _: _stop_service(fault_pipeline, "kafka", 20))
    assert all(p.poll() is None for p in fault_pipeline.workers), "a worker died"


def test_elasticsearch_down_for_30_seconds(fault_pipeline: Pipeline) -> None:
    _flow(fault_pipeline, lambda _: _stop_service(fault_pipeline, "elasticsearch", 30))
    assert all(p.poll() is None for p in fault_pipeline.workers), "a worker died"


def test_two_replicas_per_stage_and_one_stops_halfway(fault_pipeline: Pipeline) -> None:
    def fault(corpus: Corpus) -> None:
        for stage in STAGES:  # the second replica of each stage joins its group
            fault_pipeline.start_worker(stage)
        wait_for(lambda: progress(fault_pipeline.settings) >= len(corpus.good_ids) // 2,
                 timeout=600, what="half the articles")
        for stage in STAGES:  # and one of each leaves (SIGTERM: finish, commit, leave)
            proc = next(p for p in fault_pipeline.workers if p.args[-1] == stage)
            proc.terminate()
            assert proc.wait(timeout=60) == 0

    _flow(fault_pipeline, fault)
