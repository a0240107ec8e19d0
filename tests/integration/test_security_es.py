"""Least privilege on a secured Elasticsearch node: the writer writes, the reader reads.

The node is the same 9.5.3 distribution as the local stack, started secured (HTTP TLS, users,
the roles of stack/security/es-roles.json) by tests/integration/secure_es.py on port 29210.
If it cannot start, the tests fail with the reason; nothing is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch

from newsflow.config import load_settings
from tests.integration import secure_es
from workers.io import elastic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node() -> Iterator[secure_es.SecureNode]:
    try:
        started = secure_es.start(load_settings())
    except Exception as exc:
        secure_es.stop()
        pytest.fail(f"the secured Elasticsearch node could not be started: {exc}", pytrace=False)
    try:
        yield started
    finally:
        secure_es.stop()


@pytest.fixture
def indices(node: secure_es.SecureNode) -> Iterator[tuple[str, str]]:
    """A news-* index and an unrelated one, each with one document, made by the admin."""
    tag = uuid.uuid4().hex[:8]
    news, other = f"news-sec{tag}", f"private-sec{tag}"
    admin = node.client("elastic")
    for name in (news, other):
        admin.index(index=name, id="seed", document={"title": f"seed of {name}"}, refresh=True)
    yield news, other
    admin.options(ignore_status=404).indices.delete(index=f"{news},{other}")


def _writer(node: secure_es.SecureNode) -> Elasticsearch:
    # Through newsflow's own client factory: proves the settings reach the connection.
    settings = load_settings(es_url=node.url, es_username="newsflow_writer",
                             es_password=node.passwords["newsflow_writer"],
                             es_ca_certs=node.ca_cert)
    return elastic.client(settings)


def test_writer_indexes_into_news_but_cannot_delete_or_read_others(
    node: secure_es.SecureNode, indices: tuple[str, str]
) -> None:
    news, other = indices
    writer = _writer(node)
    assert writer.index(index=news, id="a1", document={"title": "written"})["result"] == "created"
    # A new news-* index may be created by the writer (the dedup state index is made this way).
    assert writer.index(index=f"{news}-dedup-state", id="k", document={"b": 1})["result"] == (
        "created")
    with pytest.raises(AuthorizationException):
        writer.indices.delete(index=news)
    with pytest.raises(AuthorizationException):
        writer.search(index=other, query={"match_all": {}})
    with pytest.raises(AuthorizationException):
        writer.get(index=other, id="seed")
    with pytest.raises(AuthorizationException):
        writer.index(index=other, id="x", document={"title": "not allowed"})
    admin = node.client("elastic")
    assert admin.get(index=news, id="a1")["_source"] == {"title": "written"}
    assert admin.count(index=other)["count"] == 1  # untouched
    admin.indices.delete(index=f"{news}-dedup-state")


def test_writer_deletes_dedup_state_partitions_and_no_other_index(
    node: secure_es.SecureNode, indices: tuple[str, str]
) -> None:
    """The dedup worker deletes its state partitions past the window: that, and only that."""
    news, other = indices
    writer = _writer(node)
    partition = f"{news}-dedup-state-2024.09.29"
    writer.indices.create(index=partition)
    assert writer.indices.delete(index=partition)["acknowledged"]
    admin = node.client("elastic")
    assert not admin.indices.exists(index=partition)
    for name in (news, other, f"{news}-v2-000001"):
        admin.options(ignore_status=400).indices.create(index=name)
        with pytest.raises(AuthorizationException):
            writer.indices.delete(index=name)
    admin.indices.delete(index=f"{news}-v2-000001")


def test_reader_searches_but_cannot_write_or_delete(
    node: secure_es.SecureNode, indices: tuple[str, str]
) -> None:
    news, other = indices
    reader = node.client("newsflow_reader")
    hits = reader.search(index=news, query={"match_all": {}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["seed"]
    with pytest.raises(AuthorizationException):
        reader.index(index=news, id="r1", document={"title": "not allowed"})
    with pytest.raises(AuthorizationException):
        reader.delete(index=news, id="seed")
    with pytest.raises(AuthorizationException):
        reader.indices.delete(index=news)
    with pytest.raises(AuthorizationException):
        reader.search(index=other, query={"match_all": {}})
    assert node.client("elastic").count(index=news)["count"] == 1


def test_no_access_without_credentials_or_with_a_wrong_password(
    node: secure_es.SecureNode, indices: tuple[str, str]
) -> None:
    news, _ = indices
    anonymous = Elasticsearch(node.url, ca_certs=str(node.ca_cert), request_timeout=10)
    with pytest.raises(AuthenticationException):
        anonymous.search(index=news)
    wrong = Elasticsearch(node.url, ca_certs=str(node.ca_cert), request_timeout=10,
                          basic_auth=("newsflow_reader", "not-the-password"))
    with pytest.raises(AuthenticationException):
        wrong.search(index=news)


def test_http_is_tls_only(node: secure_es.SecureNode) -> None:
    plain = Elasticsearch(node.url.replace("https://", "http://"), request_timeout=5,
                          max_retries=0, basic_auth=("elastic", node.passwords["elastic"]))
    with pytest.raises(Exception) as caught:  # the TLS port does not speak plain HTTP
        plain.cluster.health()
    assert "ConnectionError" in type(caught.value).__name__ or "Connection" in str(caught.value)
