"""The local native stack has no authentication, so it binds to loopback only: any other
address is refused before anything is fetched or started, credentials or not."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from newsflow import stack
from newsflow.config import Settings
from newsflow.stack import services

ELSEWHERE = {
    "kafka": {"kafka_bootstrap": "0.0.0.0:9092"},
    "elasticsearch": {"es_url": "http://192.168.1.10:9200"},
    "prefect": {"prefect_api_url": "http://newsflow.example.org:4200/api"},
}


@pytest.mark.parametrize("service", list(ELSEWHERE))
def test_non_loopback_endpoints_are_refused(service: str) -> None:
    with pytest.raises(stack.StackError, match="only listens on loopback"):
        services.bind_host(Settings(**ELSEWHERE[service]), service)  # type: ignore[arg-type]


@pytest.mark.parametrize("service", list(ELSEWHERE))
def test_credentials_do_not_make_the_local_stack_bind_elsewhere(service: str) -> None:
    # The local services would not check them: setting them must not open the stack up.
    settings = Settings(**ELSEWHERE[service], es_username="u",  # type: ignore[arg-type]
                        es_password=SecretStr("p"), kafka_username="u",
                        kafka_password=SecretStr("p"))
    with pytest.raises(stack.StackError, match="no authentication"):
        stack.up(settings, services=(service,))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "[::1]"])
def test_loopback_endpoints_are_accepted(host: str) -> None:
    settings = Settings(es_url=f"http://{host}:9200")
    assert services.bind_host(settings, "elasticsearch").port == 9200
