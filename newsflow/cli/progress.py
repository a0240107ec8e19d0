"""A rich progress bar with count, rate and ETA, shared by the commands that do long work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "-/s")


@contextmanager
def bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  RateColumn(), TimeElapsedColumn(), TextColumn("eta"),
                  TimeRemainingColumn()) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


@contextmanager
def bar_for(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A ``flows.progress.Progress`` callback drawing a bar: opened at the first report (the
    total is known then), set to each ``done`` reported (a resumed backfill starts there)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  RateColumn(), TimeElapsedColumn(), TextColumn("eta"),
                  TimeRemainingColumn()) as progress:
        task: list[TaskID] = []

        def report(done: int, total: int | None) -> None:
            if not task:
                task.append(progress.add_task(description, total=total, completed=done))
            else:
                progress.update(task[0], completed=done, total=total)

        yield report
