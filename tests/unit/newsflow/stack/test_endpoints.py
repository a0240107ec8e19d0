"""The local native stack has no authentication, so it binds to loopback only: any other
address is refused before anything is fetched or started, credentials or not."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from newsflow import stack
from newsflow.config import Settings
from newsflow.stack import endpoints, services

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


# --- reading the endpoint settings ------------------------------------------------------------


def test_a_kafka_endpoint_is_one_host_and_port() -> None:
    ep = endpoints.parse("kafka", "kafka_bootstrap", "127.0.0.1:19092", url=False,
                         default_port=9092)
    assert (ep.host, ep.port, ep.address) == ("127.0.0.1", 19092, "127.0.0.1:19092")
    assert endpoints.parse("kafka", "kafka_bootstrap", "localhost", url=False,
                           default_port=9092).port == 9092
    with pytest.raises(stack.StackError, match=r"NEWSFLOW_KAFKA_BOOTSTRAP.*single host:port"):
        endpoints.parse("kafka", "kafka_bootstrap", "a:1,b:2", url=False, default_port=9092)


def test_an_http_endpoint_is_a_plain_http_url() -> None:
    ep = endpoints.parse("prefect", "prefect_api_url", "http://[::1]:4200/api", url=True,
                         default_port=80)
    assert (ep.host, ep.port, ep.url_host) == ("::1", 4200, "[::1]")
    assert endpoints.parse("corenlp", "corenlp_url", "http://127.0.0.1", url=True,
                           default_port=80).port == 80
    with pytest.raises(stack.StackError, match="plain http"):
        endpoints.parse("elasticsearch", "es_url", "https://127.0.0.1:9200", url=True,
                        default_port=80)
    with pytest.raises(stack.StackError, match="bad port"):
        endpoints.parse("elasticsearch", "es_url", "http://127.0.0.1:99999", url=True,
                        default_port=80)


def test_localhost_binds_to_127_0_0_1() -> None:
    ep = endpoints.loopback_only("corenlp", endpoints.Endpoint("localhost", 9000))
    assert ep == endpoints.Endpoint("127.0.0.1", 9000)
