"""The local stack (newsflow.stack): run after `newsflow stack up`, which this does not start."""

from __future__ import annotations

import pytest

from newsflow import stack
from newsflow.config import load_settings

pytestmark = pytest.mark.integration


def test_status_reports_every_service_healthy() -> None:
    statuses = {s.name: s for s in stack.status(load_settings())}

    assert list(statuses) == list(stack.SERVICES)
    unhealthy = {n: f"{s.detail} (log: {s.log})" for n, s in statuses.items() if not s.healthy}
    assert not unhealthy, f"not healthy: {unhealthy}; is the stack up (`newsflow stack up`)?"


def test_up_refuses_to_bind_beyond_loopback() -> None:
    settings = load_settings(es_url="http://0.0.0.0:9200")

    with pytest.raises(stack.StackError, match="loopback"):
        stack.up(settings, services=("elasticsearch",))
