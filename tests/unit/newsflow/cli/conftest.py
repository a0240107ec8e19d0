"""Shared by the CLI's tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # The CLI's callback sets up logging onto the runner's stderr, closed once it returns.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
