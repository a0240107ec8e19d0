"""The reader for languages other than English: names as the model found them, countries named
as in English, no English rules."""

from __future__ import annotations

from workers.entities.gazetteer import Aliases, Gazetteer
from workers.entities.plain import PlainReader, country_names

ALIASES = Aliases.load()
READER = PlainReader(ALIASES, Gazetteer.load(ALIASES))


def spans(text: str, *names: tuple[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, label) of the first occurrence of each (surface, label)."""
    return [(text.index(s), text.index(s) + len(s), label) for s, label in names]


def test_a_country_in_its_own_language_gets_its_english_name() -> None:
    assert country_names("es")["alemania"] == "Germany"
    assert country_names("de")["niederlande"] == "Netherlands"
    assert country_names("nl")["duitsland"] == "Germany"
    assert country_names("it")["germania"] == "Germany"
    assert country_names("xx") == {}  # no translation: nothing renamed

    text = "El canciller viajó a Alemania. En Alemania, Siemens anunció despidos."
    second = text.rindex("Alemania")
    entities = READER.entities(text, "es", [*spans(text, ("Alemania", "LOC"), ("Siemens", "ORG")),
                                            (second, second + 8, "MISC")])
    by_name = {e.name: e for e in entities}
    assert by_name["Germany"].type == "location" and by_name["Germany"].count == 2
    assert [text[m.start:m.end] for m in by_name["Germany"].mentions] == ["Alemania"] * 2
    assert by_name["Siemens"].type == "organization"


def test_spans_lose_quotes_and_brackets_at_their_edges_and_keep_their_offsets() -> None:
    text = "Der Sprecher von «Volkswagen» sagte (Wolfsburg) nichts."
    start = text.index("«")
    entities = READER.entities(text, "de", [(start, start + len("«Volkswagen»"), "ORG"),
                                            (text.index("("), text.index(")") + 1, "LOC")])
    assert [(e.name, e.type) for e in entities] == [("Volkswagen", "organization"),
                                                    ("Wolfsburg", "location")]
    for e in entities:
        assert all(text[m.start:m.end] == e.name for m in e.mentions)


def test_labels_the_stage_drops_and_one_letter_spans_give_nothing() -> None:
    text = "A las 10 horas, el euro subió en X."
    assert READER.entities(text, "es", [(0, 1, "PER"), (6, 14, "DATE"),
                                        (text.index("X"), text.index("X") + 1, "ORG")]) == []


def test_no_english_rules_the_model_decides_where_a_name_starts() -> None:
    # The English reader would cut "President" off a person's span; here the model decides.
    text = "Il presidente Sergio Mattarella ha parlato a Roma."
    entities = READER.entities(text, "it", spans(text, ("Sergio Mattarella", "PER"),
                                                  ("Roma", "LOC")))
    assert [(e.name, e.type) for e in entities] == [("Sergio Mattarella", "person"),
                                                    ("Roma", "location")]


def test_a_span_across_a_line_break_is_cut_there() -> None:
    text = "Dat zei Frank Schlömer\nDe ploeg van Ajax won."
    start = text.index("Frank")
    entities = READER.entities(text, "nl", [(start, text.index(" ploeg"), "PER")])
    assert [(e.name, e.type) for e in entities] == [("Frank Schlömer", "person")]
