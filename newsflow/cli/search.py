"""``newsflow search``: faceted full-text search from the command line, as a table or JSON
(the query is :mod:`newsflow.search`'s, the table :mod:`newsflow.cli.search_view`'s)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer

from newsflow.cli.common import console, fail, settings_of


def _when(value: str | None, option: str) -> date | datetime | None:
    """A date (the whole day) or an ISO 8601 time; a usage error naming ``option`` else."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{option}: not a date (YYYY-MM-DD or ISO 8601): {value!r}") from exc


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(
        help='full-text query ("quoted phrase", -exclude, a | b); \'*\' for everything')] = "*",
    source: Annotated[str | None, typer.Option(help="only this source")] = None,
    since: Annotated[str | None, typer.Option(
        "--from", help="published on or after this date (YYYY-MM-DD or ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(
        "--to", help="published on or before this date (a date: the whole day)")] = None,
    entity: Annotated[str | None, typer.Option(
        help="only articles naming this person, organisation or location (aliases too)")] = None,
    country: Annotated[str | None, typer.Option(
        help="only this country: ISO 3166 code or name")] = None,
    language: Annotated[str | None, typer.Option(
        help="only this language code; for en, fr, de, es, nl and it the words are matched "
        "with that language's analyser (stemming, stop words)")] = None,
    person: Annotated[str | None, typer.Option(help="only articles naming this person")] = None,
    organization: Annotated[str | None, typer.Option(help="only this organisation")] = None,
    location: Annotated[str | None, typer.Option(help="only this location")] = None,
    collapse: Annotated[bool, typer.Option(
        help="each story once (collapsed on story_id), with its outlets, languages and when it "
        "was first seen; newsflow story ID lists its articles")] = False,
    size: Annotated[int, typer.Option(min=1, max=100, help="hits per page")] = 10,
    page: Annotated[int, typer.Option(min=1, help="page number")] = 1,
    facets: Annotated[int, typer.Option(min=1, max=100, help="values shown per facet")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Faceted full-text search: hits with highlighted snippets; top values of each facet and
    a timeline. The Python API is newsflow.search.search."""
    from newsflow.cli.search_view import print_result
    from newsflow.search import Filters
    from newsflow.search import search as run_search
    from workers.io import elastic

    settings = settings_of(ctx)
    filters = Filters(source=source, language=language, country=country, entity=entity,
                      person=person, organization=organization, location=location,
                      since=_when(since, "--from"), until=_when(until, "--to"))
    result = run_search(elastic.client(settings), settings.es_alias, query, filters=filters,
                        size=size, page=page, facet_size=facets, collapse=collapse,
                        stories_index=settings.stories_index)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_result(result, console)
