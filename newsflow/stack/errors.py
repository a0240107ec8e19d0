"""The local stack's one error: a service cannot be fetched, started or reached."""

from __future__ import annotations


class StackError(RuntimeError):
    """The local stack cannot be fetched, started or reached; the message says what to do."""
