"""The clean stage, built once per test module as the worker builds it."""

from __future__ import annotations

import pytest

from newsflow.config import Settings
from workers.clean import build
from workers.clean.stage import CleanStage
from workers.stage import StageContext


@pytest.fixture(scope="module")
def stage() -> CleanStage:
    return build(Settings(min_words=20), StageContext(offline=True))
