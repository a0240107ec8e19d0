"""``newsflow stories``: story similarity of article pairs offline, the stage's own scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from newsflow.cli.common import console, err, fail

app = typer.Typer(help="Stories: the same event told by different outlets.",
                  no_args_is_help=True)


@app.command("similarity")
def similarity(
    input: Annotated[Path, typer.Option(
        "--input", "-i", exists=True, dir_okay=False, readable=True,
        help='JSONL of pairs: {"id", "title_1", "text_1", "title_2", "text_2", '
        '"lang_1", "lang_2"} (languages optional)')],
    output: Annotated[Path, typer.Option(
        "--output", "-o", dir_okay=False, writable=True,
        help='JSONL: each pair written back with "similarity" (0..1, 1 = same story) and '
        '"same_story" (at the stage\'s operating threshold)')],
) -> None:
    """Score article pairs with the stories stage's similarity, offline (no services).

    A line that is not a pair (bad JSON, a title or text missing) is reported with its line
    number and left out of the output; the command then exits with code 1."""
    from pydantic import ValidationError

    from newsflow.cli.progress import bar
    from schemas.stories import StoryPair
    from workers.stories.similarity import Similarity, profile

    model = Similarity.load()
    lines = input.read_text(encoding="utf-8").splitlines()
    rejected: list[int] = []
    scored = 0
    with output.open("w", encoding="utf-8") as out, bar("pairs", len(lines)) as advance:
        for number, line in enumerate(lines, start=1):
            advance(1)
            if not line.strip():
                continue
            try:
                pair = StoryPair.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                err.print(f"line {number}: not a pair: {where}: {first['msg']}",
                          highlight=False, markup=False)
                rejected.append(number)
                continue
            score = model.score(profile(pair.title_1, pair.text_1, pair.lang_1),
                                profile(pair.title_2, pair.text_2, pair.lang_2))
            record = json.loads(line)
            record.update(similarity=round(score, 4), same_story=model.same_story(score))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            scored += 1
    console.print(f"{scored} pairs scored into {output} "
                  f"(similarity {model.version}, same story at >= {model.threshold})")
    if rejected:
        raise fail(f"{len(rejected)} lines rejected (not written): line "
                   + ", ".join(map(str, rejected[:20])) + (" ..." if len(rejected) > 20 else ""))


def story(
    ctx: typer.Context,
    story_id: Annotated[str, typer.Argument(
        help="a story id (story_id of an article; `newsflow search --collapse` shows them)")],
    size: Annotated[int, typer.Option(min=1, max=1000, help="articles listed at most")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """A story's articles over time, oldest first: outlets, languages, first and last seen.
    A story merged into another shows the one it merged into, with both stories' articles."""
    from dataclasses import asdict

    from rich.markup import escape
    from rich.table import Table

    from newsflow.cli.common import settings_of
    from newsflow.stories import story as find_story
    from workers.io import elastic

    settings = settings_of(ctx)
    summary, articles = find_story(elastic.client(settings), settings.es_alias,
                                   settings.stories_index, story_id, size=size)
    if summary is None:
        raise fail(f"no story {story_id!r} in {settings.es_alias!r}")
    if as_json:
        print(json.dumps({"story": asdict(summary), "articles": articles},
                         ensure_ascii=False, indent=2))
        return
    merged = "" if summary.story_id == story_id else f" (merged into {summary.story_id})"
    table = Table("published", "source", "lang", "title", "score",
                  title=f"story {escape(story_id)}{escape(merged)}: {summary.articles} articles, "
                  f"{summary.outlet_count} outlets, {', '.join(summary.languages) or '-'}; "
                  f"first seen {(summary.first_seen or '-')[:16].replace('T', ' ')}")
    for a in articles:
        table.add_row((a.get("published_at") or "")[:16].replace("T", " "),
                      escape(a.get("source") or ""), a.get("language") or "",
                      escape(a.get("title") or "(untitled)"),
                      f"{a['story_score']:.2f}" if a.get("story_score") is not None else "")
    console.print(table)
