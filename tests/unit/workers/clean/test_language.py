"""clean stage: language identification of a news paragraph in each language the entities stage
reads, a given language kept as given, and a text too short to tell that never raises."""

from __future__ import annotations

import pytest

from workers.clean.stage import CleanStage

# Written for this test, news-like, 3-4 sentences each.
PARAGRAPHS = {
    "es": (
        "El ayuntamiento aprobó el martes un plan para renovar el puerto antes del verano. "
        "Las obras costarán unos cuarenta millones de euros y durarán casi dos años. "
        "Los pescadores temen perder sus puestos mientras se construye el nuevo muelle, "
        "pero el alcalde prometió que nadie tendrá que dejar de trabajar."
    ),
    "de": (
        "Die Landesregierung hat am Mittwoch ein neues Gesetz zum Schutz der Wälder "
        "beschlossen. Künftig dürfen alte Buchen nur noch mit einer besonderen Genehmigung "
        "gefällt werden. Die Förster begrüßten die Entscheidung, während die Holzindustrie "
        "vor höheren Preisen warnte."
    ),
    "nl": (
        "De gemeenteraad heeft dinsdagavond besloten om de oude brug over het kanaal te "
        "vervangen. De werkzaamheden beginnen volgend jaar en zullen ongeveer achttien "
        "maanden duren. Fietsers moeten in die tijd een omweg van twee kilometer maken, "
        "zegt de wethouder."
    ),
    "it": (
        "Il consiglio comunale ha approvato ieri sera il nuovo piano per il traffico del "
        "centro storico. Dal mese prossimo le automobili non potranno più entrare nelle vie "
        "intorno alla piazza principale. I commercianti temono di perdere clienti, mentre "
        "i residenti si dicono soddisfatti."
    ),
    "fr": (
        "Le conseil régional a voté jeudi un budget en hausse pour les transports publics. "
        "Les trains entre les deux plus grandes villes de la région circuleront toutes les "
        "demi-heures dès le printemps. Les syndicats de cheminots demandent cependant "
        "davantage de personnel pour assurer ce nouveau service."
    ),
    "en": (
        "The city council voted on Tuesday to close the old hospital by the end of next "
        "year. Patients will be moved to a new building on the northern edge of town, which "
        "opens in the spring. Nurses said they welcomed the change but worried about the "
        "longer journey for elderly visitors."
    ),
}


@pytest.fixture(scope="module")
def stage() -> CleanStage:
    # The language method needs no extraction child: no time limit means none is started.
    return CleanStage(min_words=20, time_limit=None)


@pytest.mark.parametrize("lang", PARAGRAPHS)
def test_a_news_paragraph_is_identified_with_high_confidence(stage: CleanStage, lang: str) -> None:
    code, confidence = stage.language(None, PARAGRAPHS[lang])
    assert code == lang
    assert confidence is not None and confidence >= 0.9


def test_a_given_language_wins_without_a_confidence(stage: CleanStage) -> None:
    assert stage.language("es-ES", PARAGRAPHS["en"]) == ("es", None)


def test_a_text_too_short_to_tell_gives_a_code_or_none_but_never_raises(stage: CleanStage) -> None:
    code, confidence = stage.language(None, "ok.")
    assert code is None or isinstance(code, str)
    assert confidence is not None and 0.0 <= confidence <= 1.0
    if code is None:
        assert confidence < 0.5
