"""Articles written for the stories tests: one event told twice in other words, one apart."""

from __future__ import annotations

import random

from schemas.articles import EnrichedArticle, article_id, canonical_url, source_of

PORT = ("Dockworkers strike shuts the port of Rotterdam",
        "Rotterdam, Tuesday. Thousands of dockworkers walked out at the port of Rotterdam on "
        "Tuesday morning, halting container traffic at Europe's largest harbour. The FNV union "
        "said the strike over pay and automation would last 48 hours. Terminal operator ECT "
        "said 23 ships were waiting at anchor off Maasvlakte.")
PORT_REWRITE = ("Europe's biggest harbour at a standstill as Rotterdam dock staff stop work",
                "Container handling at Rotterdam stopped on Tuesday after the FNV union called "
                "its members out for 48 hours in a dispute about wages and automated cranes. "
                "ECT, which runs the Maasvlakte terminals, counted 23 vessels waiting at anchor.")
OTHER = ("Heavy snow closes Alpine passes",
         "Avalanche warnings were raised across the Swiss Alps after a metre of fresh snow fell "
         "overnight. The Gotthard pass stayed closed and skiers were told to keep to marked "
         "runs, the federal institute for snow research said.")
PORT_ES = ("Huelga de estibadores paraliza el puerto de Róterdam",
           "Miles de estibadores del puerto de Róterdam iniciaron el martes una huelga de 48 "
           "horas convocada por el sindicato FNV por los salarios y la automatización. El "
           "operador ECT informó de 23 barcos fondeados frente a Maasvlakte.")


def enriched(url: str, article: tuple[str, str], language: str = "en",
             source: str | None = None) -> EnrichedArticle:
    """An article as the entities stage hands it on."""
    title, body = article
    return EnrichedArticle(
        id=article_id(url), url=url, canonical_url=canonical_url(url),
        source=source or source_of(url), title=title, body=body, language=language,
        word_count=len(body.split()), cluster_id=article_id(url), text_hash=article_id(url))

# The seed article's event (../shared/data/seed), told again in our own words.
SEED_REWRITE = (
    "Baghdad backs Syrian unity after Amman talks, security chief says",
    "Iraq will stand with Syria as it works to keep the country secure and united, national "
    "security adviser Qasim al-Araji said in a statement late on Sunday.\n\n"
    "He spoke after officials from Syria's neighbours, Jordan, Türkiye, Iraq and Lebanon, met "
    "Syrian representatives in Amman. The meeting backed Syria's new government, condemned "
    "Israeli strikes on Syrian territory and agreed to set up a joint operations room against "
    "the Islamic State group (ISIS).\n\n"
    "Writing on X, Al-Araji called for reason and moderation rather than sectarianism, saying "
    "a stable and reconciled Syria was the aim of every citizen.\n\n"
    "The talks followed attacks last week in Latakia and Tartus, where fighters loyal to the "
    "ousted Assad regime ambushed security patrols. Bashar Assad fled to Russia on 8 December "
    "2024; Ahmed al-Sharaa was named transitional president on 29 January.")


def event_pairs(count: int) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """``count`` events, each told twice in different words; the events share no names,
    places or figures, so each pair is one story and no two pairs are."""
    rng = random.Random(count)
    syllables = ["ka", "lo", "mi", "ster", "an", "dre", "vo", "pi", "tur", "el", "sa", "gon",
                 "bru", "fen", "zil", "ow", "ryk", "ta"]
    used: set[str] = set()

    def name() -> str:
        while True:
            word = "".join(rng.choices(syllables, k=3)).title()
            if word not in used:
                used.add(word)
                return word

    out = []
    for n in range(count):
        town, mayor, firm, product, union = name(), f"{name()} {name()}", name(), name(), name()
        jobs, money = 120 + 37 * n, 11 + 3 * n
        first = (f"{firm} to close its {town} plant, {jobs} jobs lost",
                 f"{firm} said on Monday it would stop making {product} in {town} by the end "
                 f"of the year, cutting {jobs} jobs. Mayor {mayor} called it a blow and the "
                 f"{union} union asked {firm} to reconsider. {firm} blamed weak {product} "
                 f"orders and a loss of {money} million.")
        second = (f"{town} mayor {mayor} urges {firm} rethink",
                  f"The {union} union and {mayor}, the mayor of {town}, want {firm} to keep "
                  f"its {product} works open. {jobs} workers would lose their jobs. "
                  f"{firm} lost {money} million as {product} sales fell.")
        out.append((first, second))
    return out
