"""Known names: the alias file, country codes, GeoNames cities, nationalities."""

from __future__ import annotations

from workers.entities.gazetteer import Aliases, pycountry_code
from workers.entities.stage import EntitiesStage


def test_country_codes() -> None:
    aliases = Aliases.load()
    assert aliases.names["daesh"] == "ISIS" and aliases.names["turkey"] == "Türkiye"
    assert [pycountry_code(n) for n in ("Syria", "Türkiye", "United States", "Iraq")] == [
        "SY",
        "TR",
        "US",
        "IQ",
    ]
    # Codes, cities and regions are not country names.
    assert [pycountry_code(n) for n in ("CAN", "IT", "Gaza", "Amman", "Latakia")] == [None] * 5
    stage = EntitiesStage(None, aliases)
    assert stage.country_code("Russia") == "RU"  # pycountry knows it only as Russian Federation
    # Asked about every place name of an endless stream: its memory must have a bound.
    assert pycountry_code.cache_info().maxsize is not None


def test_gazetteer_countries_cities_nationalities(stage: EntitiesStage) -> None:
    gazetteer = stage.gazetteer
    assert [gazetteer.country_of(n) for n in ("Amman", "Tartus", "Latakia", "Paris")] == [
        "JO",
        "SY",
        "SY",
        "FR",
    ]
    # A city of that name in two countries, neither dwarfing the other: no country.
    assert gazetteer.country_of("Manchester") is None
    assert gazetteer.demonym("Israeli") == gazetteer.demonym("Israelis") == "IL"
    assert gazetteer.is_place("Rotterdam") and not gazetteer.is_place("Chelsea")
