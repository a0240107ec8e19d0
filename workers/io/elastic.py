"""Elasticsearch housekeeping: the versioned ``news`` index behind its alias, and bulk writes.

Index definitions are JSON files, ``schemas/es/news-v<N>.json``; the highest N is the current
one. Version 1 lives in one index, ``<alias>-v1``. From version 2 on, an index is one
*generation* of a rolling series, ``<alias>-v<N>-<generation:06d>``: the alias spans every
generation (searches see all of them) and marks exactly one as its write index, so
``_rollover`` can start a new generation when the current one is old or big enough. The
composable index template ``<alias>-v<N>`` (core, available everywhere) gives any new
generation the same settings and mapping; where the node has ILM (the official Docker image),
the template also names the lifecycle policy ``schemas/es/news-ilm.json`` and ILM rolls over
by itself. The local node has no ILM: ``rollover()`` (``newsflow rollover``) applies the same
conditions through the core ``_rollover`` API.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from schemas import ES_DIR
from workers.io.auth import es_client_options
from workers.settings import WorkerSettings

log = logging.getLogger(__name__)

_VERSION_FILE = re.compile(r"^news-v(\d+)\.json$")


class _OrjsonNdjsonSerializer(NdjsonSerializer):
    """Bulk bodies encoded with orjson, like every other request and response (see client)."""

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)


def client(settings: WorkerSettings, retries: int = 3) -> Elasticsearch:
    """The Elasticsearch client. ``retries``: the client's own quick retries, for people's
    commands; the workers pass 0 and wait faults out with their backoff instead."""
    # orjson instead of the stdlib json: encoding and decoding the dedup state's bulk writes
    # and mget responses is a large share of the dedup worker's CPU (docs/performance.md).
    serializers = {"application/json": OrjsonSerializer(),
                   "application/x-ndjson": _OrjsonNdjsonSerializer()}
    # Credentials and CA, when configured (workers/io/auth.py); none on the local stack.
    return Elasticsearch(settings.es_hosts, request_timeout=30, retry_on_timeout=retries > 0,
                         max_retries=retries, serializers=serializers,
                         **es_client_options(settings))


def mapping_versions() -> list[int]:
    return sorted(int(m.group(1)) for p in ES_DIR.iterdir() if (m := _VERSION_FILE.match(p.name)))


def index_definition(version: int | None = None) -> tuple[int, dict[str, Any]]:
    """(version, body) of an index definition file; the newest when ``version`` is None."""
    version = version or mapping_versions()[-1]
    body = json.loads((ES_DIR / f"news-v{version}.json").read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return version, body


def index_name(settings: WorkerSettings, version: int, generation: int = 1) -> str:
    """The index holding mapping ``version`` (its first generation unless told otherwise)."""
    if version < 2 and generation == 1:
        # Version 1 predates rollover: one index, no generation suffix (kept for old installs).
        return f"{settings.es_alias}-v{version}"
    return f"{settings.es_alias}-v{version}-{generation:06d}"


def template_name(settings: WorkerSettings, version: int) -> str:
    return f"{settings.es_alias}-v{version}"


def lifecycle_name(settings: WorkerSettings) -> str:
    return f"{settings.es_alias}-lifecycle"


def lifecycle_policy() -> dict[str, Any]:
    """The ILM policy (``schemas/es/news-ilm.json``) for nodes that have ILM."""
    body = json.loads((ES_DIR / "news-ilm.json").read_text(encoding="utf-8"))
    return dict(body["policy"])


def has_ilm(es: Elasticsearch) -> bool:
    """Whether the node runs ILM (x-pack-ilm); the local stack's node does not."""
    try:
        es.ilm.get_status()
    except ApiError:  # "no handler found for uri [/_ilm/status]": 400 without the module
        return False
    return True


def replicas(es: Elasticsearch, settings: WorkerSettings) -> int:
    """Replicas of our indices: ``settings.es_replicas``, or (-1) 1 on a cluster of 2+ data
    nodes, so that losing one node loses no shard, and 0 on a single node."""
    if settings.es_replicas >= 0:
        return settings.es_replicas
    nodes = int(es.cluster.health()["number_of_data_nodes"])
    return 1 if nodes >= 2 else 0


def index_template(settings: WorkerSettings, version: int | None = None,
                   ilm: bool = False, replica_count: int | None = None) -> dict[str, Any]:
    """Body of the composable template that shapes every generation of ``version``."""
    version, body = index_definition(version)
    index_settings = dict(body["settings"])
    if replica_count is not None:
        index_settings["number_of_replicas"] = replica_count
    if ilm:
        index_settings["index.lifecycle.name"] = lifecycle_name(settings)
        index_settings["index.lifecycle.rollover_alias"] = settings.es_alias
    return {
        "index_patterns": [f"{settings.es_alias}-v{version}-*"],
        # Above the built-in templates (priority <= 100) so ours wins for our names.
        "priority": 200,
        "template": {"settings": index_settings, "mappings": body["mappings"]},
        "_meta": {"mapping_version": version, "managed_by": "newsflow"},
    }


def ensure_template(es: Elasticsearch, settings: WorkerSettings, version: int | None = None) -> str:
    """Put the index template (and, where ILM runs, the lifecycle policy). Idempotent."""
    version = version or mapping_versions()[-1]
    ilm = has_ilm(es)
    if ilm:
        es.ilm.put_lifecycle(name=lifecycle_name(settings), policy=lifecycle_policy())
    name = template_name(settings, version)
    body = index_template(settings, version, ilm=ilm, replica_count=replicas(es, settings))
    es.indices.put_index_template(name=name, index_patterns=body["index_patterns"],
                                  priority=body["priority"], template=body["template"],
                                  meta=body["_meta"])
    return name


def write_index(es: Elasticsearch, alias: str) -> str | None:
    """The index the alias writes to (the one marked ``is_write_index``), None without alias."""
    if not es.indices.exists_alias(name=alias):
        return None
    indices = es.indices.get_alias(name=alias)
    for name, info in indices.items():
        if info.get("aliases", {}).get(alias, {}).get("is_write_index"):
            return str(name)
    # An alias over a single index writes to it even without the flag.
    return str(next(iter(indices))) if len(indices) == 1 else None


def write_mapping_version(es: Elasticsearch, alias: str) -> int | None:
    """The mapping version of the index the alias writes to (from its name, ``<alias>-v<N>``
    or ``<alias>-v<N>-<generation>``), None without one."""
    name = write_index(es, alias)
    match = _GENERATION.match(name) if name else None
    return int(match.group("version")) if match else None


def ensure_index(es: Elasticsearch, settings: WorkerSettings) -> str:
    """Create the current index and point the alias at it, unless the alias already exists.

    New installs get the newest mapping as generation 1 of its series, and its template.
    An existing alias (a ``news-v1`` install, say) is left as it is, until reindexed.
    Returns the index the alias writes to. Idempotent, safe to run from every worker.
    """
    alias = settings.es_alias
    current = write_index(es, alias)
    if current is not None:
        return current
    version, body = index_definition()
    if version >= 2:
        ensure_template(es, settings, version)
    name = index_name(settings, version)
    if not es.indices.exists(index=name):
        # The alias comes with the index in one request: no moment without a write index.
        es.options(ignore_status=400).indices.create(
            index=name, settings={**body["settings"], "number_of_replicas": replicas(es, settings)},
            mappings=body["mappings"], aliases={alias: {"is_write_index": True}},
        )
    if not es.indices.exists_alias(name=alias, index=name):
        es.indices.put_alias(index=name, name=alias, is_write_index=True)
    log.info("index ready", extra={"index": name, "alias": alias})
    return name


_GENERATION = re.compile(r"^(?P<stem>.+-v(?P<version>\d+))(?:-(?P<generation>\d+))?$")


def next_generation(index: str) -> tuple[int, str]:
    """(mapping version, name of the next generation) after ``index``."""
    match = _GENERATION.match(index)
    if not match:
        raise ValueError(f"index {index!r} is not named <alias>-v<N>[-<generation>]")
    generation = int(match.group("generation") or 1)
    return int(match.group("version")), f"{match.group('stem')}-{generation + 1:06d}"


@dataclass(frozen=True)
class Rollover:
    rolled_over: bool
    old_index: str
    new_index: str
    conditions: dict[str, bool]  # each condition asked for, and whether it was met
    dry_run: bool


def rollover(
    es: Elasticsearch,
    settings: WorkerSettings,
    *,
    max_age: str | None = "30d",
    max_primary_shard_size: str | None = "10gb",
    max_docs: int | None = 10_000_000,
    dry_run: bool = False,
    force: bool = False,
) -> Rollover:
    """Start a new generation behind the alias when one condition is met (or ``force``).

    The same conditions as the ILM hot phase (``schemas/es/news-ilm.json``), through the core
    ``_rollover`` API, for nodes without ILM. The new generation gets the write index's own
    mapping version (moving to a new mapping is a reindex, not a rollover); the old one stays
    behind the alias, read-only in practice, so searches still see it.
    """
    old = write_index(es, settings.es_alias)
    if old is None:
        raise LookupError(f"alias {settings.es_alias!r} has no write index: "
                          "run `newsflow stack init`")
    version, new = next_generation(old)
    _, body = index_definition(version)
    conditions: dict[str, Any] = {}
    if not force:
        conditions = {k: v for k, v in {"max_age": max_age, "max_docs": max_docs,
                                         "max_primary_shard_size": max_primary_shard_size}.items()
                      if v is not None}
    if version >= 2:
        ensure_template(es, settings, version)
    response = es.indices.rollover(
        alias=settings.es_alias, new_index=new, conditions=conditions or None,
        settings={**body["settings"], "number_of_replicas": replicas(es, settings)},
        mappings=body["mappings"], dry_run=dry_run,
    )
    result = Rollover(bool(response["rolled_over"]), str(response["old_index"]),
                      str(response["new_index"]), dict(response.get("conditions", {})), dry_run)
    log.info("rollover", extra={"alias": settings.es_alias, "old": result.old_index,
                                "new": result.new_index, "rolled_over": result.rolled_over})
    return result


def drop_index(es: Elasticsearch, settings: WorkerSettings) -> None:
    """Delete every index behind the alias, its templates, the dedup state and the stories
    (tests, reset)."""
    if es.indices.exists_alias(name=settings.es_alias):
        for name in es.indices.get_alias(name=settings.es_alias):
            es.indices.delete(index=name)
    for version in mapping_versions():
        es.options(ignore_status=404).indices.delete_index_template(
            name=template_name(settings, version))
    # The dedup state: its time partitions, and the single index of dedup 2.0 and before.
    # By name: deleting by wildcard is refused where action.destructive_requires_name holds.
    state = list(es.indices.get(index=f"{settings.dedup_index}-*", expand_wildcards="open",
                                allow_no_indices=True))
    for name in [*state, settings.dedup_index, settings.stories_index,
                 f"{settings.stories_index}-lock"]:
        es.options(ignore_status=404).indices.delete(index=name)


def count(es: Elasticsearch, settings: WorkerSettings) -> int:
    if not es.indices.exists_alias(name=settings.es_alias):
        return 0
    return int(es.count(index=settings.es_alias)["count"])


@dataclass(frozen=True)
class BulkFailure:
    position: int  # index into the list of documents given to bulk_index
    status: int
    error: str

    @property
    def transient(self) -> bool:
        # 429 = too many requests, 5xx = the node's trouble: worth retrying, not the document's.
        return self.status == 429 or self.status >= 500


def bulk_index(es: Elasticsearch, index: str, docs: list[tuple[str, bytes]]) -> list[BulkFailure]:
    """Index ``(id, json bytes)`` pairs in one bulk request; return the items that failed.

    Every item's status is checked: a bulk response is HTTP 200 even when items failed.
    """
    if not docs:
        return []
    lines: list[str] = []
    for doc_id, source in docs:
        lines.append(json.dumps({"index": {"_index": index, "_id": doc_id}}))
        lines.append(source.decode("utf-8"))
    # Sent as ready NDJSON: the documents are already JSON, no need to parse and re-encode.
    response = es.bulk(operations="\n".join(lines) + "\n")  # type: ignore[arg-type]
    failures = []
    if response.get("errors"):
        for position, item in enumerate(response["items"]):
            result = item["index"]
            if "error" in result:
                error = result["error"]
                failures.append(
                    BulkFailure(position, int(result.get("status", 500)), json.dumps(error)[:2000])
                )
    return failures
