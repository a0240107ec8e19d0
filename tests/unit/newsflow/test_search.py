"""Query building of newsflow.search, without Elasticsearch (relevance: tests/integration)."""

from __future__ import annotations

from datetime import date

from newsflow.search import (
    Filters,
    build_query,
    build_request,
    country_code,
    expand_aliases,
    pick_interval,
    text_fields,
)


def test_entity_aliases_expand_to_every_spelling_outside_quotes() -> None:
    text, found = expand_aliases("Türkiye earthquake")
    assert found == ["Türkiye"]
    assert text.startswith("(Türkiye | Turkey | Turkiye") and text.endswith(") earthquake")
    assert expand_aliases("turkey")[1] == ["Türkiye"]  # names match in any case
    assert expand_aliases('"Turkey hit" Ankara') == ('"Turkey hit" Ankara', [])  # quotes kept


def test_acronyms_match_only_in_capitals() -> None:
    assert expand_aliases("this is us") == ("this is us", [])
    text, found = expand_aliases("US sanctions")
    assert found == ["United States"] and '"United States"' in text


def test_country_accepts_codes_and_names() -> None:
    assert country_code("tr") == "TR"
    assert country_code("Turkey") == "TR"  # through the alias table to Türkiye
    assert country_code("Syria") == "SY"


def test_filters_become_exact_clauses() -> None:
    query = build_query("strike", Filters(source="example.org", country="Netherlands",
                                          entity="Turkey", since=date(2024, 1, 1),
                                          until=date(2024, 1, 31)))
    clauses = query["bool"]["filter"]
    assert {"term": {"countries": "NL"}} in clauses
    assert {"range": {"published_at": {"gte": "2024-01-01", "lte": "2024-01-31||/d"}}} in clauses
    entity = next(c for c in clauses if "bool" in c and any(
        "persons" in s["term"] for s in c["bool"]["should"]))
    assert {"term": {"locations": "Türkiye"}} in entity["bool"]["should"]
    assert {"term": {"locations.folded": "türkiye"}} in entity["bool"]["should"]


def test_match_all_for_star_and_phrases_go_to_the_exact_subfields() -> None:
    assert build_query("*")["bool"]["must"] == [{"match_all": {}}]
    text = build_query('"port strike"')["bool"]["must"][0]["simple_query_string"]
    assert text["quote_field_suffix"] == ".exact" and text["default_operator"] == "and"
    assert "title^3" in text["fields"]


def test_collapse_and_pagination() -> None:
    request = build_request("x", size=5, page=3, collapse=True)
    assert request["collapse"] == {"field": "story_id"}
    assert request["from_"] == 10 and request["size"] == 5
    assert {"persons", "organizations", "locations", "source", "countries", "first",
            "last"} <= set(request["aggs"])
    fixed = build_request("x", interval="month")
    assert "collapse" not in fixed
    assert fixed["aggs"]["timeline"]["date_histogram"]["calendar_interval"] == "month"


def test_timeline_interval_fits_the_span() -> None:
    day = 86_400_000
    assert pick_interval(None, None) == "day"
    assert pick_interval(0, day) == "hour"
    assert pick_interval(0, 30 * day) == "day"
    assert pick_interval(0, 200 * day) == "week"
    assert pick_interval(0, 3 * 365 * day) == "month"
    assert pick_interval(0, 30 * 365 * day) == "year"


def test_a_language_filter_matches_words_with_that_languages_analyser() -> None:
    spanish = build_query("huelgas", Filters(language="ES"))["bool"]
    fields = spanish["must"][0]["simple_query_string"]["fields"]
    assert fields[:2] == ["localized.es.title^3", "localized.es.body"]
    assert not any(f.startswith(("title", "body")) for f in fields)
    assert {"term": {"language": "es"}} in spanish["filter"]
    assert text_fields("en")[:2] == ["title^3", "body"]  # English: title and body themselves
    assert text_fields("pt") == text_fields("en")  # no analyser of its own
    everything = text_fields(None)  # no language: every analyser
    assert {"title^3", "body", "localized.de.body", "localized.it.title^3"} <= set(everything)
