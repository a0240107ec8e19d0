"""The spaCy pipelines the stage runs: English (CoreNLP's tagger or spaCy's), other languages.

In: the worker's settings. Out: a spaCy ``Language`` whose ``doc.ents`` are the model's names:
for English spaCy's tokenizer with the CoreNLP component (``ner_backend`` "corenlp", see
:mod:`workers.entities.corenlp`) or the spaCy model's own NER ("spacy"), then a gazetteer
ruler that adds the names the model missed; for another language either a CoreNLP model for it
on the server (German and Spanish: CoreNLP's; Dutch and Italian: ours, trained by
``scripts/train_ner.py`` into ``workers/data/ner``) or a spaCy package's NER (French). Also
the name each pipeline is recorded under (``entities_model``).
"""

from __future__ import annotations

import pycountry
import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

from workers.entities import corenlp
from workers.entities.gazetteer import Aliases, geonames
from workers.entities.labels import EntityType
from workers.entities.lexicon import lexicon
from workers.settings import WorkerSettings

# Cities the EntityRuler adds when the model misses them: only big ones, whose names are
# rarely anything else ("Nice", "Split", "Reading" are smaller).
RULER_CITY_POPULATION = 1_000_000

_RULER_LABELS: dict[EntityType, str] = {
    "organization": "ORG",
    "location": "GPE",
    "person": "PERSON",
}

# Pipeline components NER does not need (spaCy ignores names a model does not have).
_NOT_FOR_NER = [
    "tagger",
    "morphologizer",
    "parser",
    "senter",
    "attribute_ruler",
    "lemmatizer",
    "trainable_lemmatizer",
]


def load_english(settings: WorkerSettings) -> Language:
    """The English pipeline: spaCy's tokenizer with CoreNLP's tagger (``ner_backend``
    "corenlp"), or the spaCy model's own NER ("spacy")."""
    if settings.ner_backend == "spacy":
        return load_ner(settings.spacy_model)
    # The spaCy package still gives the tokenizer (mentions snap to its tokens) and the
    # vocabulary the re-caser reads its common words from; none of its trained components run.
    nlp = spacy.load(settings.spacy_model, exclude=[*_NOT_FOR_NER, "ner", "tok2vec"])
    for pipe_name in list(nlp.pipe_names):
        nlp.remove_pipe(pipe_name)
    nlp.add_pipe(
        corenlp.COMPONENT,
        config={"url": settings.corenlp_url, "concurrency": settings.corenlp_concurrency},
    )
    return nlp


def load_corenlp(lang: str, settings: WorkerSettings) -> Language:
    """spaCy's tokenizer for ``lang`` with CoreNLP's model for that language (the server's)."""
    nlp = spacy.blank(lang)
    nlp.add_pipe(corenlp.COMPONENT, config={
        "url": settings.corenlp_url, "concurrency": settings.corenlp_concurrency,
        "language": lang})
    return nlp


def load_ner(model: str) -> Language:
    """The model with NER and what NER listens to (a shared tok2vec/transformer), nothing else."""
    nlp = spacy.load(model, exclude=_NOT_FOR_NER)
    for pipe_name, pipe in list(nlp.pipeline):
        # en_core_web_sm's NER embeds its own tok2vec; larger pipelines may share one.
        if pipe_name != "ner" and "ner" not in getattr(pipe, "listening_components", []):
            nlp.remove_pipe(pipe_name)
    return nlp


def describe(nlp: Language) -> str:
    """The model an article's entities came from, as recorded in ``entities_model``."""
    if corenlp.COMPONENT in nlp.pipe_names:
        component = nlp.get_pipe(corenlp.COMPONENT)
        assert isinstance(component, corenlp.CoreNlpNer)
        return corenlp.model_name(component.client.model)
    return f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}"


def add_gazetteer_ruler(nlp: Language, aliases: Aliases) -> None:
    """Fill the model's gaps with known names (phrase patterns, exact case, after ``ner``):
    the alias file's organisations and places, countries, cities of a million people or
    more, nationalities. The model's own spans win where they overlap."""
    patterns: list[dict[str, str]] = []
    for name, forms in aliases.surfaces.items():
        if label := _RULER_LABELS.get(aliases.types.get(name, "misc")):
            patterns += [
                {"label": label, "pattern": f}
                for f in forms
                if f.casefold().replace(".", "") not in STOP_WORDS  # "IS", "US", "WHO"
            ]
    gc = geonames()
    places = [c["name"] for c in gc.get_countries().values()]
    places += [c.name for c in pycountry.countries]
    places += [
        c["name"] for c in gc.get_cities().values() if c["population"] >= RULER_CITY_POPULATION
    ]
    patterns += [{"label": "GPE", "pattern": p} for p in sorted(set(places))]
    patterns += [{"label": "NORP", "pattern": d} for d in lexicon().demonyms]
    ruler = nlp.add_pipe("entity_ruler", last=True, config={"overwrite_ents": False})
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
