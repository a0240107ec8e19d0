"""Offline mode: a stage over JSON Lines, without Kafka or Elasticsearch.

In: the lines of a JSONL file. Out: a :class:`~workers.runtime.batch.Result` per line, in
batches as the worker makes them, so ``newsflow worker STAGE -i in.jsonl -o out.jsonl`` gives
what the Kafka worker would. Dedup keeps its state in memory; ``index`` returns the documents
it would write.
"""

from __future__ import annotations

from collections.abc import Iterable

from workers.runtime.batch import BatchProcessor, Message, Result
from workers.settings import WorkerSettings
from workers.stage import StageContext
from workers.topology import StageSpec


def run_offline(spec: StageSpec, settings: WorkerSettings, lines: Iterable[bytes]) -> list[Result]:
    """Run a stage over JSONL records; one result per non-blank line."""
    stage = spec.build(settings, StageContext(offline=True))
    processor = BatchProcessor(spec, stage, settings.max_message_bytes, settings.stage_attempts)
    results: list[Result] = []
    batch: list[Message] = []
    try:
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            batch.append(Message(line.rstrip(b"\n"), topic="<file>", offset=n))
            if len(batch) >= settings.batch_size:
                results += processor.run(batch)
                batch = []
        results += processor.run(batch)
    finally:
        stage.close()
    return results

