"""``newsflow audit`` (do the books balance?) and ``newsflow dlq list|replay`` (dead letters).

Both read Kafka (and the index) and print tables, or JSON for scripts; ``audit`` exits 1 when
inputs are without an outcome, ``dlq replay`` re-publishes through :mod:`flows.replay_dlq`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from newsflow.cli.common import console, err, settings_of
from workers.topology import STAGES

dlq_app = typer.Typer(help="The dead-letter topic: list and replay.", no_args_is_help=True)
_DLQ_STAGE = typer.Option(help=f"only dead letters of this stage ({', '.join(STAGES)})")
_DLQ_REASON = typer.Option(help="only this reason (not-json, invalid, too-large, ...)")
_DLQ_SINCE = typer.Option(help="only dead-lettered at or after this time (UTC if no zone)")
_DLQ_UNTIL = typer.Option(help="only dead-lettered before this time (UTC if no zone)")


def audit(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
    reconcile: Annotated[bool, typer.Option(
        help="read the raw, dead-letter and skip topics whole and check that every input "
        "ended indexed, skipped or dead-lettered")] = True,
) -> None:
    """Offsets and lag per topic and group, dead letters, skips, documents; do the books balance?

    Exits 1 when the reconciliation finds inputs without an outcome (or documents without an
    input): while workers are still busy that is the work in flight."""
    from newsflow.audit import audit as run_audit

    result = run_audit(settings_of(ctx), reconcile=reconcile)
    rec = result.reconciliation
    if as_json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        table = Table("topic", "end offset", title="topics")
        for topic, end in result.topics.items():
            table.add_row(topic, str(end))
        console.print(table)
        table = Table("stage", "group", "input topic", "committed", "lag", title="groups")
        for g in result.groups:
            table.add_row(g.stage, g.group, g.topic, str(g.committed), str(g.lag))
        console.print(table)
        table = Table("stage", "reason", "dead letters", title=(
            f"dead letters ({result.dead_letter_records} records)"))
        for stage, reasons in result.dead_letters.items():
            for reason, n in sorted(reasons.items()):
                table.add_row(stage, reason, str(n))
        console.print(table)
        table = Table("stage/reason", "skipped", title="skips")
        for key, n in sorted(result.skips.items()):
            table.add_row(key, str(n))
        console.print(table)
        console.print(f"documents: {result.documents}")
        if rec is not None:
            console.print(
                f"raw messages {rec.raw_messages}, distinct inputs {rec.distinct_inputs} = "
                f"indexed {rec.indexed} + skipped {rec.skipped} + dead-lettered "
                f"{rec.dead_lettered}; missing {rec.missing_count}, unexpected "
                f"{rec.unexpected_count}, recovered by replay {rec.recovered}: "
                + ("[green]balanced[/green]" if rec.balanced else "[red]NOT balanced[/red]"))
            for ident in rec.missing[:10]:
                console.print(f"  missing: {ident}")
    if rec is not None and not rec.balanced:
        raise typer.Exit(1)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    stage: Annotated[str | None, _DLQ_STAGE] = None,
    reason: Annotated[str | None, _DLQ_REASON] = None,
    since: Annotated[datetime | None, _DLQ_SINCE] = None,
    until: Annotated[datetime | None, _DLQ_UNTIL] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Dead letters: when, which stage, why, where from, after how many attempts."""
    from workers.io.dead_letters import list_dead

    dead = list_dead(settings_of(ctx), stage=stage, reason=reason, since=since, until=until)
    if as_json:
        for d in dead:
            print(json.dumps(d.summary(), ensure_ascii=False))
        return
    table = Table("ref", "at", "stage", "reason", "attempts", "source", "id", "error",
                  title=f"{len(dead)} dead letters")
    for d in dead:
        table.add_row(d.ref, d.at.strftime("%Y-%m-%d %H:%M:%S"), d.stage, d.reason,
                      str(d.attempts), d.source, d.article_id or "", d.error[:80])
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    stage: Annotated[str | None, _DLQ_STAGE] = None,
    reason: Annotated[str | None, _DLQ_REASON] = None,
    since: Annotated[datetime | None, _DLQ_SINCE] = None,
    until: Annotated[datetime | None, _DLQ_UNTIL] = None,
    dry_run: Annotated[bool, typer.Option(help="only show what would be replayed")] = False,
) -> None:
    """Re-publish dead letters' original bytes to their stage's input topic, once each."""
    from flows.replay_dlq import replay

    settings = settings_of(ctx)
    report = replay(settings, stage=stage, reason=reason, since=since, until=until,
                    dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    counts = ", ".join(f"{n} to {t}" for t, n in report.by_topic(settings).items()) or "nothing"
    console.print(f"{verb} {len(report.replayed)} ({counts}); {report.already} replayed before")
    if report.unknown_stage:
        err.print(f"{len(report.unknown_stage)} dead letters name no known stage: left alone")
