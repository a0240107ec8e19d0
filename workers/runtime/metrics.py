"""The worker's counters and its one log line per message outcome (Prometheus + logging).

In: a :class:`~workers.runtime.batch.Result` per input message. Out: one structured log line
and one counter increment per outcome; ``newsflow worker`` serves the counters on
``NEWSFLOW_METRICS_PORT``.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram

from workers.runtime.batch import Result

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "newsflow_messages", "Input messages by final outcome", ["stage", "outcome", "reason"]
)
BATCH_SECONDS = Histogram("newsflow_batch_seconds", "Time to handle one batch", ["stage"])
RETRIES = Counter("newsflow_retries", "Transient-fault retries", ["stage", "target"])
DEAD = Counter("newsflow_dead_lettered", "Messages dead-lettered", ["stage", "reason"])
SKIPPED_TOTAL = Counter("newsflow_skipped", "Messages skipped", ["stage", "reason"])
PROCESSED = Counter("newsflow_processed", "Messages emitted to the next topic or indexed",
                    ["stage"])
LAG = Gauge("newsflow_lag", "Messages behind the end of the input partition, at last commit",
            ["stage", "partition"])
COMMIT_LOST = Counter("newsflow_commits_lost", "Batches whose partitions moved to another "
                      "replica before the commit (reprocessed there)", ["stage"])



def record_outcome(stage: str, topic: str, r: Result, counts: dict[str, int]) -> None:
    """The one log line and the counters of a message's outcome (tallied in ``counts`` too)."""
    counts[r.kind] = counts.get(r.kind, 0) + 1
    MESSAGES.labels(stage, r.kind, r.reason or "").inc()
    if r.kind == "emitted":
        PROCESSED.labels(stage).inc()
    elif r.kind == "skipped":
        SKIPPED_TOTAL.labels(stage, r.reason or "").inc()
    else:
        DEAD.labels(stage, r.reason or "").inc()
    extra = {"stage": stage, "topic": topic, "partition": r.message.partition,
             "offset": r.message.offset, "article_id": r.article_id, "outcome": r.kind}
    if r.kind == "emitted":
        log.info("emitted", extra=extra)
    else:
        log.warning(r.kind, extra={**extra, "reason": r.reason, "error": r.error,
                                   "attempts": r.attempts})

