"""The whole pipeline in one table: which stage reads what, writes what, with which models.

    news.raw --clean--> news.clean --dedup--> news.deduped --entities--> news.enriched
             --stories--> news.storied --index--> ES

A stage's name is its module (``workers/<name>``), its ``newsflow worker NAME`` argument
and its consumer group (``WorkerSettings.group``). Topic names come from
``WorkerSettings.topic`` and the ``input``/``output`` kinds below, and nowhere else. A stage's
version lives here too (its module reads it from this table): every article records the
version of each stage that made it, and ``reenrich`` re-runs the stages whose version changed
without importing any stage's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from pydantic import BaseModel

from schemas.articles import (
    CleanArticle,
    DedupedArticle,
    EnrichedArticle,
    IndexDocument,
    RawArticle,
    StoriedArticle,
)
from workers.settings import WorkerSettings
from workers.stage import Stage, StageContext

RAW = "raw"
DLQ = "dlq"
SKIPPED = "skipped"
REPLAYED = "dlq-replayed"  # marks of dead letters already replayed (newsflow dlq replay)


@dataclass(frozen=True)
class StageSpec:
    name: str
    version: str  # bump when the stage's output changes for the same input
    input: str  # topic kind read
    output: str | None  # topic kind written; None = Elasticsearch
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    # The longest one message may take in this stage, worst case: it sizes the consumer's
    # max.poll.interval, so that a batch of slow but bounded messages is not mistaken for a
    # stuck worker (see workers.runtime.max_poll_interval_ms).
    seconds_per_message: float = 0.25

    def build(self, settings: WorkerSettings, context: StageContext) -> Stage[BaseModel]:
        module = import_module(f"workers.{self.name}")
        factory: Callable[[WorkerSettings, StageContext], Stage[BaseModel]] = module.build
        return factory(settings, context)

    def input_topic(self, settings: WorkerSettings) -> str:
        return settings.topic(self.input)

    def output_topic(self, settings: WorkerSettings) -> str | None:
        return settings.topic(self.output) if self.output else None


STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in (
        # clean: a page may use its whole extraction time limit (10 s) and then the
        # extraction child is restarted.
        StageSpec("clean", "2.1.0", RAW, "clean", RawArticle, CleanArticle,
                  seconds_per_message=15.0),
        StageSpec("dedup", "2.1", "clean", "deduped", CleanArticle, DedupedArticle),
        # entities: spaCy on a very long article takes seconds.
        StageSpec("entities", "3.1.0", "deduped", "enriched", DedupedArticle, EnrichedArticle,
                  seconds_per_message=1.0),
        # stories: after entities, whose work it does not need yet but whose names and
        # countries (language-neutral) are its next signals; and so that the slow entities
        # stage never waits on the stories' Elasticsearch round trips (docs/stages/stories.md).
        StageSpec("stories", "1.0.0", "enriched", "storied", EnrichedArticle, StoriedArticle),
        StageSpec("index", "1.1.0", "storied", None, StoriedArticle, IndexDocument),
    )
}


def current_versions() -> dict[str, str]:
    """stage -> the version its code has now."""
    return {name: spec.version for name, spec in STAGES.items()}


def all_topics(settings: WorkerSettings) -> list[str]:
    """Every topic the pipeline uses, in flow order, plus the dead-letter and skip topics."""
    kinds = [RAW] + [s.output for s in STAGES.values() if s.output] + [DLQ, SKIPPED]
    return [settings.topic(kind) for kind in kinds]
