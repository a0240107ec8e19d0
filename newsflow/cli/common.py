"""What every command shares: the consoles, the settings the callback loaded, the one-line
failure."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from newsflow.config import Settings

console = Console()
err = Console(stderr=True)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the ``newsflow`` callback loaded for this command line."""
    settings: Settings = ctx.obj
    return settings


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned exit (code 1)."""
    # Escaped: messages quote user input and exception text, whose brackets are not markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)
