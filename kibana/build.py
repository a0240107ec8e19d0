"""Write kibana/newsflow.ndjson: the saved objects Kibana imports on first start.

    python kibana/build.py        # after changing this file; tests check the output is current

The objects are written as code, not exported from a running Kibana, because none runs here:
one place says which field each panel shows, and tests check every field against the index
mapping (tests/unit/kibana/). Format: Kibana 9.x saved objects (data view, saved search, Lens
visualisations, a dashboard that references them), with the migration versions of their
current shape, so Kibana imports them without rewriting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "newsflow.ndjson"
DATA_VIEW = "newsflow-news"
CORE = "8.8.0"  # coreMigrationVersion of objects in today's shape
COUNT = "count"


def _obj(type_: str, id_: str, version: str, attributes: dict[str, Any],
         references: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": type_, "id": id_, "attributes": attributes, "references": references,
            "coreMigrationVersion": CORE, "typeMigrationVersion": version, "managed": False}


def data_view() -> dict[str, Any]:
    return _obj("index-pattern", DATA_VIEW, "7.11.0", {
        "title": "news",  # the alias: every index generation behind it
        "name": "News articles",
        "timeFieldName": "published_at",
        "fieldFormatMap": json.dumps({"url": {"id": "url"}}),
        "runtimeFieldMap": "{}",
        "fieldAttrs": "{}",
        "sourceFilters": "[]",
        "fields": "[]",
        "typeMeta": "{}",
    }, [])


SEARCH_COLUMNS = ["title", "source", "language", "countries", "persons", "organizations",
                  "locations", "story_id", "cluster_id", "url"]


def saved_search() -> dict[str, Any]:
    source = {"highlightAll": True, "version": True, "query": {"query": "", "language": "kuery"},
              "filter": [], "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return _obj("search", "newsflow-articles", "7.9.3", {
        "title": "News articles",
        "description": "Every article, newest first, with its facets.",
        "columns": SEARCH_COLUMNS,
        "sort": [["published_at", "desc"]],
        "hits": 0,
        "version": 1,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
    }, [{"type": "index-pattern", "id": DATA_VIEW,
         "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}])


def _count(label: str = "Articles") -> dict[str, Any]:
    return {"label": label, "customLabel": True, "dataType": "number", "operationType": "count",
            "isBucketed": False, "scale": "ratio", "sourceField": "___records___"}


def _terms(field: str, label: str, size: int, order_by: str = COUNT) -> dict[str, Any]:
    return {"label": label, "customLabel": True, "dataType": "string",
            "operationType": "terms", "sourceField": field, "isBucketed": True,
            "scale": "ordinal",
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by},
                       "orderDirection": "desc", "otherBucket": False, "missingBucket": False,
                       "parentFormat": {"id": "terms"}}}


def _lens(id_: str, title: str, vis_type: str, columns: dict[str, dict[str, Any]],
          visualization: dict[str, Any], query: str = "") -> dict[str, Any]:
    layer = "layer1"
    visualization = json.loads(json.dumps(visualization).replace("LAYER", layer))
    return _obj("lens", id_, "8.9.0", {
        "title": title,
        "description": "",
        "visualizationType": vis_type,
        "state": {
            "datasourceStates": {"formBased": {"layers": {layer: {
                "columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}}}},
            "visualization": visualization,
            "query": {"query": query, "language": "kuery"},
            "filters": [],
            "internalReferences": [],
            "adHocDataViews": {},
        },
    }, [{"type": "index-pattern", "id": DATA_VIEW,
         "name": "indexpattern-datasource-current-indexpattern"},
        {"type": "index-pattern", "id": DATA_VIEW,
         "name": f"indexpattern-datasource-layer-{layer}"}])


def _xy(series: str, x: str, y: str = COUNT) -> dict[str, Any]:
    return {"preferredSeriesType": series, "legend": {"isVisible": False, "position": "right"},
            "valueLabels": "show" if series == "bar_horizontal" else "hide",
            "fittingFunction": "None",
            "axisTitlesVisibilitySettings": {"x": False, "yLeft": False, "yRight": False},
            "layers": [{"layerId": "LAYER", "layerType": "data", "seriesType": series,
                        "xAccessor": x, "accessors": [y]}]}


def top_values(id_: str, title: str, field: str, size: int = 15) -> dict[str, Any]:
    return _lens(id_, title, "lnsXY",
                 {"values": _terms(field, title, size), COUNT: _count()},
                 _xy("bar_horizontal", "values"))


def timeline() -> dict[str, Any]:
    date = {"label": "Published", "customLabel": True, "dataType": "date",
            "operationType": "date_histogram", "sourceField": "published_at",
            "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}
    return _lens("newsflow-timeline", "Articles over time", "lnsXY",
                 {"date": date, COUNT: _count()}, _xy("bar_stacked", "date"))


def biggest_stories(id_: str = "newsflow-biggest-stories", title: str = "Biggest stories",
                    query: str = "") -> dict[str, Any]:
    """Stories (the stories stage's story_id) by articles, with a headline, how many outlets
    and languages ran each; ``query`` narrows the articles (KQL)."""
    headline = {"label": "Headline", "customLabel": True, "dataType": "string",
                "operationType": "last_value", "sourceField": "title.raw", "isBucketed": False,
                "scale": "ordinal", "filter": {"query": "title.raw: *", "language": "kuery"},
                "params": {"sortField": "published_at", "showArrayValues": False}}
    outlets = {"label": "Outlets", "customLabel": True, "dataType": "number",
               "operationType": "unique_count", "sourceField": "source", "isBucketed": False,
               "scale": "ratio", "params": {"emptyAsNull": True}}
    languages = {**outlets, "label": "Languages", "sourceField": "language"}
    columns = {"story": _terms("story_id", "Story", 20), "headline": headline,
               "outlets": outlets, "languages": languages, COUNT: _count()}
    vis = {"layerId": "LAYER", "layerType": "data", "rowHeight": "auto",
           "sorting": {"columnId": COUNT, "direction": "desc"},
           "columns": [{"columnId": c, **({"hidden": True} if c == "story" else {})}
                       for c in columns]}
    return _lens(id_, title, "lnsDatatable", columns, vis, query)


def dashboard(panels: list[tuple[dict[str, Any], int, int, int, int]]) -> dict[str, Any]:
    entries, references = [], []
    for n, (obj, x, y, w, h) in enumerate(panels, start=1):
        index = str(n)
        entries.append({"type": obj["type"], "panelIndex": index,
                        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                        "embeddableConfig": {"enhancements": {}},
                        "panelRefName": f"panel_{index}"})
        references.append({"type": obj["type"], "id": obj["id"], "name": f"{index}:panel_{index}"})
    return _obj("dashboard", "newsflow-overview", "8.7.0", {
        "title": "News overview",
        "description": "Who and where the news is about, who ran it, when; the biggest stories.",
        "panelsJSON": json.dumps(entries),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                   "syncTooltips": False, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-1y",
        "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 60000},
        "version": 1,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
            {"query": {"query": "", "language": "kuery"}, "filter": []})},
    }, references)


def objects() -> list[dict[str, Any]]:
    persons = top_values("newsflow-top-persons", "Top persons", "persons")
    orgs = top_values("newsflow-top-organizations", "Top organisations", "organizations")
    locations = top_values("newsflow-top-locations", "Top locations", "locations")
    sources = top_values("newsflow-top-sources", "Sources", "source")
    countries = top_values("newsflow-top-countries", "Countries", "countries", size=20)
    time, stories, articles = timeline(), biggest_stories(), saved_search()
    today = biggest_stories("newsflow-todays-stories", "Today's biggest stories",
                            "published_at >= now-1d")
    board = dashboard([
        (today, 0, 0, 48, 12),
        (time, 0, 12, 48, 10),
        (persons, 0, 22, 16, 14), (orgs, 16, 22, 16, 14), (locations, 32, 22, 16, 14),
        (sources, 0, 36, 16, 14), (countries, 16, 36, 16, 14), (stories, 32, 36, 16, 14),
        (articles, 0, 50, 48, 16),
    ])
    return [data_view(), articles, time, persons, orgs, locations, sources, countries, stories,
            today, board]


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(objects())} objects)")
