"""The Kibana saved objects (kibana/*.ndjson) and their loader, without a Kibana.

Checks: every line parses; the file is what kibana/build.py writes; every reference resolves;
every field a panel, the saved search or the data view uses exists in the current index
mapping with a type that operation needs; and the import request is well-formed.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from newsflow import kibana
from workers.io import elastic

KIBANA_DIR = Path(__file__).resolve().parents[3] / "kibana"
AGGREGATABLE = {"keyword", "date", "integer", "float", "boolean"}


def objects() -> list[dict[str, Any]]:
    lines = (KIBANA_DIR / "newsflow.ndjson").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def mapped_fields() -> dict[str, str]:
    """Dotted field name -> type, subfields included, for the newest mapping."""
    _, body = elastic.index_definition()
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            out[path] = spec.get("type", "object")
            walk(spec.get("properties", {}), f"{path}.")
            walk(spec.get("fields", {}), f"{path}.")

    walk(body["mappings"]["properties"], "")
    return out


def by_type(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == kind]


def test_ndjson_is_current_and_complete() -> None:
    build = runpy.run_path(str(KIBANA_DIR / "build.py"))
    assert (KIBANA_DIR / "newsflow.ndjson").read_text(encoding="utf-8") == build["render"](), \
        "kibana/newsflow.ndjson is stale: run python kibana/build.py"
    kinds = [o["type"] for o in objects()]
    assert kinds.count("index-pattern") == 1 and kinds.count("dashboard") == 1
    assert kinds.count("search") == 1 and kinds.count("lens") == 8
    ids = [(o["type"], o["id"]) for o in objects()]
    assert len(ids) == len(set(ids))


def test_data_view_is_the_alias_with_published_at_as_time_field() -> None:
    (view,) = by_type("index-pattern")
    assert view["attributes"]["title"] == "news"
    assert mapped_fields()[view["attributes"]["timeFieldName"]] == "date"


def test_every_reference_resolves_to_an_object_in_the_file() -> None:
    known = {(o["type"], o["id"]) for o in objects()}
    for obj in objects():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["id"], ref)


def test_saved_search_columns_and_sort_exist() -> None:
    fields = mapped_fields()
    (search,) = by_type("search")
    assert search["attributes"]["columns"], "a saved search needs columns"
    for column in search["attributes"]["columns"]:
        assert column in fields, column
    for field, _direction in search["attributes"]["sort"]:
        assert fields[field] in AGGREGATABLE
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["indexRefName"] in {r["name"] for r in search["references"]}


# Which mapping types each Lens operation can run on (Kibana hides the rest in its editor).
OPERATION_TYPES = {
    "terms": {"keyword"},
    "unique_count": {"keyword", "integer", "float", "date"},
    "last_value": {"keyword", "integer", "float", "date", "boolean"},
    "date_histogram": {"date"},
}


def test_every_lens_field_exists_with_a_suitable_type() -> None:
    fields = mapped_fields()
    checked = 0
    for lens in by_type("lens"):
        layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        ref_names = {r["name"] for r in lens["references"]}
        for layer_id, layer in layers.items():
            assert f"indexpattern-datasource-layer-{layer_id}" in ref_names
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                op, field = column["operationType"], column["sourceField"]
                if op == "count":
                    assert field == "___records___"
                    continue
                assert field in fields, (lens["id"], field)
                assert fields[field] in OPERATION_TYPES[op], (lens["id"], field, fields[field])
                sort_field = column.get("params", {}).get("sortField")
                if sort_field:
                    assert fields[sort_field] == "date"
                checked += 1
        # The visualisation only points at columns its layer has.
        vis = lens["attributes"]["state"]["visualization"]
        columns = set(next(iter(layers.values()))["columns"])
        for layer in vis.get("layers", []):
            assert {layer["xAccessor"], *layer["accessors"]} <= columns
        for column in vis.get("columns", []):
            assert column["columnId"] in columns
    assert checked >= 8


def test_dashboard_shows_the_panels_the_issue_asks_for() -> None:
    (board,) = by_type("dashboard")
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in board["references"]}
    shown = set()
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
        shown.add(ref["id"])
    lens_fields = {
        lens["id"]: {c["sourceField"] for layer in lens["attributes"]["state"]["datasourceStates"]
                     ["formBased"]["layers"].values() for c in layer["columns"].values()}
        for lens in by_type("lens")
    }
    fields_shown = set().union(*(lens_fields.get(i, set()) for i in shown))
    assert {"persons", "organizations", "locations", "source", "countries", "published_at",
            "story_id", "language"} <= fields_shown
    assert {"newsflow-articles", "newsflow-todays-stories"} <= shown


def test_import_request_is_well_formed() -> None:
    request = kibana.import_request("http://kibana:5601/", KIBANA_DIR)
    assert request.method == "POST"
    assert str(request.url) == "http://kibana:5601/api/saved_objects/_import?overwrite=true"
    assert request.headers["kbn-xsrf"]
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.read()
    parts = [p for p in body.split(b"--" + boundary) if p.strip(b"-\r\n")]
    assert len(parts) == 1
    head, _, payload = parts[0].partition(b"\r\n\r\n")
    assert b'name="file"' in head and b'filename="newsflow.ndjson"' in head
    sent = [json.loads(line) for line in payload.strip(b"\r\n").decode().splitlines()]
    assert [(o["type"], o["id"]) for o in sent] == [(o["type"], o["id"]) for o in objects()]


def test_import_request_in_a_space_and_without_overwrite() -> None:
    request = kibana.import_request("http://k:5601", KIBANA_DIR, overwrite=False, space="news")
    assert str(request.url) == "http://k:5601/s/news/api/saved_objects/_import?overwrite=false"


def test_bundle_refuses_a_broken_line(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text('{"type": "index-pattern"}\n{"type": \n')
    with pytest.raises(ValueError, match="saved object 2"):
        kibana.bundle(tmp_path)
    with pytest.raises(FileNotFoundError):
        kibana.bundle(tmp_path / "missing")


def test_import_request_logs_in_when_security_is_on() -> None:
    request = kibana.import_request("http://k:5601", KIBANA_DIR, auth=("elastic", "s3cret"))
    assert request.headers["authorization"] == "Basic ZWxhc3RpYzpzM2NyZXQ="  # elastic:s3cret
    assert "authorization" not in kibana.import_request("http://k:5601", KIBANA_DIR).headers
