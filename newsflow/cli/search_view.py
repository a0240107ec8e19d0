"""How ``newsflow search`` shows a result in a terminal: hits with snippets, facets, timeline.

In: a :class:`~newsflow.search.SearchResult` and a rich console. Out: a table of hits (their
highlights in bold), each facet's top values and a bar per timeline interval.
"""

from __future__ import annotations

import re
from typing import Any

from newsflow.search import SearchResult

_BARS = "▏▎▍▌▋▊▉█"


def _bar(value: int, top: int, width: int = 30) -> str:
    cells = value / top * width if top else 0
    return "█" * int(cells) + (_BARS[int((cells % 1) * 8)] if cells % 1 >= 0.125 else "")


def _markup(snippet: str) -> str:
    from rich.markup import escape

    # Highlights come as <em>…</em>; everything else is the article's text, escaped for rich.
    parts = re.split(r"<em>(.*?)</em>", snippet)
    return "".join(f"[bold yellow]{escape(p)}[/]" if i % 2 else escape(p)
                   for i, p in enumerate(parts)).replace("\n", " ")


def print_result(result: SearchResult, console: Any, timeline: bool = True) -> None:
    """Hits with snippets, then each facet's top values and the timeline, for a terminal."""
    from rich.markup import escape
    from rich.table import Table

    first = (result.page - 1) * result.size + 1
    what = (f"{result.total} articles in {result.stories} stories" if result.collapsed
            else f"{result.total} articles")
    table = Table("#", "article", "source", "published", *(["ran it"] if result.collapsed
                                                           else []),
                  title=f"{what} for {escape(repr(result.query or '*'))}", show_lines=True)
    for n, hit in enumerate(result.hits, start=first):
        cell = f"[bold]{escape(hit.title or '(untitled)')}[/]"
        if hit.snippet:
            cell += f"\n[dim]{_markup(hit.snippet)}[/]"
        row = [str(n), cell, escape(hit.source or ""), (hit.published_at or "")[:10]]
        if result.collapsed:
            outlets, articles = hit.story_outlet_count or 1, hit.story_articles or 1
            languages = ", ".join(hit.story_languages or [])
            row.append(f"{outlets} outlet{'s' * (outlets > 1)}\n"
                       f"{articles} article{'s' * (articles > 1)}"
                       + (f"\n{escape(languages)}" if languages else "")
                       + (f"\nfirst seen {hit.story_first_seen[:16].replace('T', ' ')}"
                          if hit.story_first_seen else "")
                       + (f"\n[dim]{escape(hit.story_id)}[/]" if hit.story_id else ""))
        table.add_row(*row)
    console.print(table)
    for name, buckets in result.facets.items():
        if buckets:
            console.print(f"[bold]{name}[/]: " + ", ".join(
                f"{escape(value)} ({count})" for value, count in buckets))
    if timeline and result.timeline:
        top = max(count for _, count in result.timeline)
        console.print(f"[bold]published_at[/] (per {result.timeline_interval}; "
                      "empty ones left out):")
        for key, count in result.timeline:
            if count:
                console.print(f"  {key[:10]} {count:>5} {_bar(count, top)}")
