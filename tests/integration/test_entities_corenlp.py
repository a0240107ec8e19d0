"""The entities stage with its default English NER, the stack's real CoreNLP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsflow.config import Settings
from schemas.articles import DedupedArticle, EnrichedArticle
from tests.seed import deduped_seed
from workers.entities.corenlp import COMPONENT, CoreNlpClient, CoreNlpError, CoreNlpNer
from workers.entities.stage import EntitiesStage, build
from workers.runtime.batch import BatchProcessor, Message
from workers.stage import Emit, StageContext
from workers.topology import STAGES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tests" / "data" / "ner-gold" / "gold.jsonl"
MODEL = "corenlp-english.conll.4class.distsim"


@pytest.fixture(scope="module")
def stage(base_settings: Settings) -> Iterator[EntitiesStage]:
    assert base_settings.ner_backend == "corenlp"  # the default this file is about
    stage = build(base_settings, StageContext(offline=True))
    yield stage
    stage.close()


def deduped(id_: str, body: str, language: str = "en") -> DedupedArticle:
    return DedupedArticle(
        id=id_, url=f"https://corenlp.example/{id_}", canonical_url=f"https://corenlp.example/{id_}",
        source="corenlp.example", body=body, language=language, word_count=len(body.split()),
        cluster_id=id_, text_hash=id_,
    )


def run(stage: EntitiesStage, articles: list[DedupedArticle]) -> list[EnrichedArticle]:
    out = []
    for outcome in stage.process(articles):
        assert isinstance(outcome, Emit), outcome
        assert isinstance(outcome.article, EnrichedArticle)
        out.append(outcome.article)
    return out


def test_seed_article(stage: EntitiesStage, base_settings: Settings) -> None:
    [article] = run(stage, [deduped_seed(ROOT / base_settings.shared_dir)])

    assert article.entities_model == MODEL
    assert {"Qasim al-Araji", "Bashar Assad", "Ahmed al-Sharaa"} <= set(article.persons)
    by_name = {e.name: e for e in article.entities}
    assert {article.body[m.start : m.end] for m in by_name["Bashar Assad"].mentions} == {
        "Bashar Assad", "Assad"}
    assert {"Syria", "Iraq", "Jordan", "Lebanon", "Türkiye", "Latakia", "Tartus", "Amman",
            "Russia"} <= set(article.locations)
    assert {"ISIS", "Baath Party"} <= set(article.organizations)
    assert {"SY", "IQ", "JO", "LB", "TR", "IL", "RU"} <= set(article.countries)
    # The model reads "National Security Adviser Qasim al-Araji" as one organisation.
    assert not any("Adviser" in name for name in article.organizations)


def test_in_a_memory_zone_the_seed_gets_the_same_entities_and_leaves_no_words(
        stage: EntitiesStage, base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running worker tags in spaCy memory zones after its warm-up (workers.entities.stage):
    CoreNLP's spans must come through them unchanged, and the zone's new words must go."""
    assert stage.nlp is not None
    seed = deduped_seed(ROOT / base_settings.shared_dir)
    monkeypatch.setattr(stage, "zone_after", stage.texts_run + 1)
    [warm] = run(stage, [seed.model_copy(update={"id": "warm", "text_hash": "warm"})])
    strings = len(stage.nlp.vocab.strings)
    zoned = run(stage, [
        seed.model_copy(update={"id": f"z{n}", "text_hash": f"z{n}",
                                "body": f"{seed.body}\n\nfrobnitz{n} rose {n}7319 points."})
        for n in (1, 2)])

    assert len(stage.nlp.vocab.strings) == strings
    for article in zoned:
        assert article.entities == warm.entities
        assert {"Qasim al-Araji", "Bashar Assad"} <= set(article.persons)


def test_gold_set_quality(stage: EntitiesStage) -> None:
    """Mention-level F1 (exact spans and types) over the project's 30+ annotated articles;
    benchmarks/eval_entities.py prints the per-type table (0.890 when this was written)."""
    docs = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    gold = {(d["id"], e["start"], e["end"], e["type"]) for d in docs for e in d["entities"]}
    enriched = run(stage, [deduped(d["id"], d["body"]) for d in docs])
    predicted = {
        (a.id, m.start, m.end, e.type) for a in enriched for e in a.entities for m in e.mentions
    }
    hits = len(gold & predicted)
    f1 = 2 * hits / (len(gold) + len(predicted))
    assert len(docs) >= 30
    assert f1 >= 0.85, f"gold-set F1 {f1:.3f}"


def test_offsets_survive_characters_java_counts_twice(stage: EntitiesStage) -> None:
    # Emoji are two UTF-16 code units in Java, one character in Python.
    body = ("\U0001f3c6\U0001f3c6 Lionel Messi scored twice in Paris on Sunday \U0001f600, and "
            "Kylian Mbappe said Paris Saint-Germain would appeal.")
    [article] = run(stage, [deduped("emoji", body)])
    surfaces = {article.body[m.start : m.end] for e in article.entities for m in e.mentions}
    assert {"Lionel Messi", "Kylian Mbappe", "Paris"} <= surfaces


def test_an_overlong_word_is_tagged_as_spaces_and_the_server_stays_up(
        base_settings: Settings, stage: EntitiesStage) -> None:
    url = base_settings.corenlp_url.rstrip("/")
    # One 30,000-character "word" once exhausted the CRF's heap, and the heap stayed short for
    # the requests after it. The server now tags such runs as spaces, offsets kept.
    blob = "x" * 30_000
    for _ in range(3):
        assert httpx.post(f"{url}/ner", content=blob.encode(), timeout=60).json()["spans"] == []
    body = f"Angela Merkel met {blob} Emmanuel Macron in Paris."
    spans = httpx.post(f"{url}/ner", content=body.encode(), timeout=60).json()["spans"]
    assert [body[b:e] for b, e, _ in spans] == ["Angela Merkel", "Emmanuel Macron", "Paris"]
    [article] = run(stage, [deduped("blob", body)])
    assert {"Angela Merkel", "Emmanuel Macron"} <= set(article.persons)
    assert httpx.get(f"{url}/ready").text == "ready"


def test_a_long_article_is_tagged_in_pieces(stage: EntitiesStage) -> None:
    # 120,000 characters: over what the server takes in one request (100,000).
    paragraph = "Angela Merkel visited Oslo and Bergen on Monday. " * 40 + "\n\n"
    [article] = run(stage, [deduped("long", paragraph * 60)])
    [merkel] = [e for e in article.entities if e.name == "Angela Merkel"]
    assert merkel.count == 2400 and len(article.body) > 100_000
    assert {"Oslo", "Bergen"} <= set(article.locations)


# One request of 98,000 characters takes the server about a second (0.2 s per 20,000 here),
# a short one a few milliseconds: a 0.1 s timeout parts them on any machine of this kind.
SLOW_TEXT = "Angela Merkel visited Oslo and Bergen on Monday. " * 2000
SHORT_TIMEOUT = 0.1


def test_no_answer_while_the_server_is_up_is_the_texts_fault(base_settings: Settings) -> None:
    # Dead-lettered (CoreNlpError), not retried for ever as an outage (TransientError).
    slow = CoreNlpClient(base_settings.corenlp_url, timeout=SHORT_TIMEOUT, max_chars=100_000)
    with pytest.raises(CoreNlpError, match="no answer"):
        slow.spans([SLOW_TEXT])


def test_a_text_the_server_cannot_answer_is_dead_lettered_with_its_reason(
        base_settings: Settings) -> None:
    """Through the worker's own decode/validate/process: the article the server gives no
    answer for goes to the dead letters with the reason, the other one through."""
    stage = build(base_settings, StageContext(offline=True))
    try:
        assert stage.nlp is not None
        component = stage.nlp.get_pipe(COMPONENT)
        assert isinstance(component, CoreNlpNer)
        # Stands in for a text that takes over a minute: one request, answered after the timeout.
        component.client.timeout, component.client.max_chars = SHORT_TIMEOUT, 100_000
        slow = deduped("slow", SLOW_TEXT)
        fine = deduped("fine", "Angela Merkel visited Oslo.")
        results = BatchProcessor(STAGES["entities"], stage, base_settings.max_message_bytes).run(
            # The short one first: when the batch is re-run one by one, the server is not yet
            # busy with two abandoned slow texts, which could delay it past the short timeout.
            [Message(a.model_dump_json().encode(), offset=n) for n, a in enumerate([fine, slow])]
        )
    finally:
        stage.close()
    by_id = {r.article_id: r for r in results}
    assert by_id["slow"].kind == "dead"
    assert "CoreNLP gave no answer" in (by_id["slow"].error or "")
    assert by_id["fine"].kind == "emitted"


def test_german_articles_are_tagged_by_corenlps_german_model(stage: EntitiesStage) -> None:
    body = ("Bundeskanzler Olaf Scholz hat am Montag die Firma Siemens in Erlangen besucht. "
            "Danach reiste Scholz nach Frankreich, wo er Emmanuel Macron traf. Volkswagen "
            "kündigte unterdessen neue Pläne in Paris an.")
    [german] = run(stage, [deduped("de-1", body, language="de")])
    assert german.entities_skipped is None
    assert german.entities_model == "corenlp-german.distsim"
    assert {"Olaf Scholz", "Emmanuel Macron"} <= set(german.persons)
    assert {"Siemens", "Volkswagen"} <= set(german.organizations)
    assert german.entities[0].name == "Olaf Scholz" and german.entities[0].count == 2
    # "Frankreich" is named as in English articles, and counted as a country.
    assert {"Erlangen", "France", "Paris"} <= set(german.locations)
    assert {"DE", "FR"} <= set(german.countries)
    for entity in german.entities:
        assert all(body[m.start:m.end].strip() == body[m.start:m.end] for m in entity.mentions)


# Written for this test: a person named in full and then by surname, countries in the
# article's own language, a city.
OTHER_LANGUAGES = {
    "es": ("El presidente del Gobierno, Pedro Sánchez, viajó el lunes a Berlín para reunirse "
           "con el canciller Olaf Scholz. Sánchez y los dirigentes de Alemania hablaron de la "
           "guerra en Ucrania.", "Pedro Sánchez", "corenlp-spanish.ancora.distsim.s512"),
    "nl": ("Premier Dick Schoof sprak maandag in Berlijn met bondskanselier Olaf Scholz. "
           "Volgens Schoof bespraken zij de oorlog in Oekraïne en de handel met Duitsland.",
           "Dick Schoof", "corenlp-newsflow-ner-nl"),
    "it": ("La presidente del Consiglio Giorgia Meloni ha incontrato lunedì a Berlino il "
           "cancelliere Olaf Scholz. Meloni ha parlato della Germania e della guerra in "
           "Ucraina.", "Giorgia Meloni", "corenlp-newsflow-ner-it"),
}


@pytest.mark.parametrize("lang", sorted(OTHER_LANGUAGES))
def test_spanish_dutch_and_italian_articles_are_tagged_by_their_models(
        stage: EntitiesStage, lang: str) -> None:
    body, person, model = OTHER_LANGUAGES[lang]
    [article] = run(stage, [deduped(f"{lang}-1", body, language=lang)])
    assert article.entities_skipped is None and article.entities_model == model
    assert {person, "Olaf Scholz"} <= set(article.persons)
    assert person.split()[-1] not in article.persons  # the surname alone is the same person
    assert {e.name: e for e in article.entities}[person].count == 2
    assert "Germany" in article.locations  # "Alemania", "Duitsland", "Germania"
    assert "DE" in article.countries
    for entity in article.entities:
        assert all(body[m.start:m.end].strip() == body[m.start:m.end] for m in entity.mentions)


def test_server_contract(base_settings: Settings) -> None:
    url = base_settings.corenlp_url.rstrip("/")
    answer = httpx.post(f"{url}/ner", content=b"Angela Merkel visited Oslo.").json()
    assert answer["spans"] == [[0, 13, "PERSON"], [22, 26, "LOCATION"]]
    assert answer["model"].endswith("english.conll.4class.distsim.crf.ser.gz")
    german = httpx.post(f"{url}/ner?lang=de", content=b"Angela Merkel besuchte Oslo.")
    assert german.json()["spans"] == [[0, 13, "PERSON"], [23, 27, "LOCATION"]]
    assert german.json()["model"].endswith("german.distsim.crf.ser.gz")
    no_model = httpx.post(f"{url}/ner?lang=xx", content=b"Angela Merkel")
    assert no_model.status_code == 404 and "no model for language xx" in no_model.text
    assert httpx.post(f"{url}/ner", content=b"caf\xe9 au lait").status_code == 400
    assert httpx.get(f"{url}/ner").status_code == 405
    too_long = httpx.post(f"{url}/ner", content=b"a " * 50_001, timeout=60)
    assert too_long.status_code == 413 and "send it in pieces" in too_long.text
    with pytest.raises(CoreNlpError, match="HTTP 413"):  # a client that does not cut its texts
        CoreNlpClient(url, max_chars=200_000).spans(["a " * 50_001])
    # A refusal that is not an outage is the text's fault: the article is dead-lettered.
    with pytest.raises(CoreNlpError, match="HTTP 404"):
        CoreNlpClient(f"{url}/no-such-path").spans(["Angela Merkel visited Oslo."])


def test_requests_share_kept_alive_connections(base_settings: Settings) -> None:
    client = CoreNlpClient(base_settings.corenlp_url, concurrency=2)
    texts = [f"Angela Merkel visited Oslo on day {n}." for n in range(20)]
    try:
        found = client.spans(texts) + client.spans(texts)
    finally:
        client.close()
    assert found == [[(0, 13, "PERSON"), (22, 26, "GPE")]] * 40
    assert client.connections_made <= 2  # one per thread, not one per request
