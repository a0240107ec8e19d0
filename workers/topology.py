"""The whole pipeline in one table: which stage reads what, writes what, with which models.

    news.raw --clean--> news.clean --dedup--> news.deduped --entities--> news.enriched --index--> ES

A stage's name is its module (``workers/<name>.py``), its ``newsflow worker NAME`` argument
and its consumer group (``Settings.group``). Topic names come from ``Settings.topic`` and the
``input``/``output`` kinds below, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from pydantic import BaseModel

from newsflow.config import Settings
from schemas.articles import (
    CleanArticle,
    DedupedArticle,
    EnrichedArticle,
    IndexDocument,
    RawArticle,
)
from workers.stage import Stage, StageContext

RAW = "raw"
DLQ = "dlq"
SKIPPED = "skipped"
REPLAYED = "dlq-replayed"  # marks of dead letters already replayed (newsflow dlq replay)


@dataclass(frozen=True)
class StageSpec:
    name: str
    input: str  # topic kind read
    output: str | None  # topic kind written; None = Elasticsearch
    input_model: type[BaseModel]
    output_model: type[BaseModel]

    def build(self, settings: Settings, context: StageContext) -> Stage[BaseModel]:
        module = import_module(f"workers.{self.name}")
        factory: Callable[[Settings, StageContext], Stage[BaseModel]] = module.build
        return factory(settings, context)

    def input_topic(self, settings: Settings) -> str:
        return settings.topic(self.input)

    def output_topic(self, settings: Settings) -> str | None:
        return settings.topic(self.output) if self.output else None


STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in (
        StageSpec("clean", RAW, "clean", RawArticle, CleanArticle),
        StageSpec("dedup", "clean", "deduped", CleanArticle, DedupedArticle),
        StageSpec("entities", "deduped", "enriched", DedupedArticle, EnrichedArticle),
        StageSpec("index", "enriched", None, EnrichedArticle, IndexDocument),
    )
}


def all_topics(settings: Settings) -> list[str]:
    """Every topic the pipeline uses, in flow order, plus the dead-letter and skip topics."""
    kinds = [RAW] + [s.output for s in STAGES.values() if s.output] + [DLQ, SKIPPED]
    return [settings.topic(kind) for kind in kinds]
