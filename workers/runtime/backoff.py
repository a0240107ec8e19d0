"""The data plane's one retry policy: infrastructure faults are waited out, doubling the wait.

In: an attempt (a callable), how to wait, and whether the worker is stopping. Out: the
attempt's result once it succeeds; an error that is not :func:`transient` at once; ``HandBack``
when asked to stop while waiting. The waits are ``FIRST_DELAY`` seconds, doubling up to
``MAX_DELAY``, for as long as the fault lasts: a broker or node that is away for minutes is
waited for, never taken for the article's fault. Ours, not a library's: the wait must keep the
consumer polling (paused) so the group keeps the worker, which the caller's ``wait`` does; the
rest is the dozen lines below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from elasticsearch import ApiError, TransportError
from kafka.errors import KafkaError

from workers.stage import TransientError

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
T = TypeVar("T")


class HandBack(Exception):
    """Stop requested while a fault is waited out: leave the batch uncommitted for the next
    run of the stage."""


def transient(exc: BaseException) -> bool:
    """Faults of the infrastructure, worth waiting out: never a reason to dead-letter."""
    if isinstance(exc, TransientError | TransportError):  # TransportError: connection, timeout
        return True
    if isinstance(exc, KafkaError):  # broker down, leader moved, request timed out
        return bool(exc.retriable)
    return isinstance(exc, ApiError) and (exc.status_code == 429 or exc.status_code >= 500)


class Backoff:
    """The next wait: ``first`` after a success, doubling up to ``MAX_DELAY``."""

    def __init__(self, first: float = FIRST_DELAY) -> None:
        self.first = self.delay = first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, MAX_DELAY)
        return delay

    def reset(self) -> None:
        self.delay = self.first


def retrying(attempt: Callable[[], T], *, wait: Callable[[float], object],
             stopping: Callable[[], bool],
             on_retry: Callable[[BaseException, float], object]) -> T:
    """``attempt()`` until it succeeds, waiting out transient faults (see the module doc)."""
    backoff = Backoff()
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not transient(exc):
                raise
            if stopping():
                raise HandBack from exc
            delay = backoff.next()
            on_retry(exc, delay)
            wait(delay)
