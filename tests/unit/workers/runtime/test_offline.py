"""Offline mode: a stage over JSON Lines, in the worker's batches, without Kafka."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.workers.runtime.shouting import SPEC, Shouting, msg
from workers.runtime.offline import run_offline
from workers.settings import WorkerSettings
from workers.stage import StageContext
from workers.topology import StageSpec


class Counting(Shouting):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def process(self, batch: Any) -> list:
        self.batches.append(len(batch))
        return super().process(batch)


def test_one_result_per_non_blank_line_in_the_workers_batches_and_the_stage_closed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stage = Counting()
    contexts: list[StageContext] = []

    def build(spec: StageSpec, settings: WorkerSettings, context: StageContext) -> Counting:
        contexts.append(context)
        return stage

    monkeypatch.setattr(StageSpec, "build", build)  # the test stage, not a workers.<name>
    lines = [msg(0, "a") + b"\n", b"\n", msg(2, "skip") + b"\n", b"   \n", b"{bad\n",
             msg(5, "b"), msg(6, "c") + b"\n"]
    results = run_offline(SPEC, WorkerSettings(batch_size=2), lines)
    assert [(r.message.offset, r.kind) for r in results] == [
        (0, "emitted"), (2, "skipped"), (4, "dead"), (5, "emitted"), (6, "emitted")]
    assert {r.message.topic for r in results} == {"<file>"}
    assert results[0].message.value == msg(0, "a")  # the line without its newline
    assert stage.batches == [2, 1, 1]  # '{bad' is dead before the stage sees it
    assert [c.offline for c in contexts] == [True]
    assert stage.closed


def test_the_stage_is_closed_even_when_a_fault_stops_the_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stage = Shouting()
    monkeypatch.setattr(StageSpec, "build", lambda spec, settings, context: stage)
    with pytest.raises(ValueError, match="could not be read further"):
        run_offline(SPEC, WorkerSettings(), iter_failing([msg(0, "a")]))
    assert stage.closed


def iter_failing(lines: list[bytes]):
    yield from lines
    raise ValueError("the file could not be read further")
