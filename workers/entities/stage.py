"""The entities stage: DedupedArticle (news.deduped) -> EnrichedArticle (news.enriched).

In: a batch of articles. Out: each article with its ``entities`` (canonical name, type, mention
offsets into ``body``) and the facets ``persons``, ``organizations``, ``locations`` and
``countries`` (ISO alpha-2), or passed through without entities and ``entities_skipped`` set
("disabled"; "no-model:<lang>" when no model is installed for its language). The body is
re-cased (:mod:`.recase`), tagged by the model (:mod:`.models`), read by rules
(:mod:`.mentions`); docs/stages/entities.md tells every rule and how well it all reads news.
An exact duplicate body reuses its entities from an in-process LRU cache.

Fails: the CoreNLP server unreachable, timing out or overloaded raises ``TransientError`` (the
runtime retries the batch); any other exception fails the batch, and the runtime's one-by-one
re-run dead-letters only the article that causes it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext

import spacy
from spacy.language import Language

from schemas.articles import DedupedArticle, EnrichedArticle, Entity
from workers.entities import corenlp
from workers.entities.gazetteer import Aliases, Gazetteer, pycountry_code
from workers.entities.labels import EntityType
from workers.entities.lexicon import lexicon
from workers.entities.mentions import EntityReader
from workers.entities.models import (
    add_gazetteer_ruler,
    describe,
    load_corenlp,
    load_english,
    load_ner,
)
from workers.entities.plain import PlainReader
from workers.entities.recase import Recaser, unwrap
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, StageContext
from workers.topology import STAGES

NAME = "entities"
VERSION = STAGES[NAME].version

# Text past this point is not analysed (offsets stay valid: it is a prefix of the body); news
# articles are far shorter, and spaCy refuses texts over 1M characters.
MAX_NER_CHARS = 200_000
# Exact-duplicate bodies whose entities are kept for reuse (a few MB at most).
CACHE_SIZE = 4096
# spaCy keeps every new word it meets (its vocabulary and its tokenizer's cache) for the life of
# the process, so a worker that runs for weeks would grow without end. After this many texts
# each model run is in a memory zone (spaCy 3.8), which frees what the run added; the texts
# before it leave the common words cached, as spaCy's memory-management guide advises
# (benchmarks/entities_memory.py measures both).
ZONE_AFTER_TEXTS = 5000

log = logging.getLogger(__name__)


class EntitiesStage:
    name = NAME
    version = VERSION

    def __init__(
        self, nlp: Language | None, aliases: Aliases, gazetteer: Gazetteer | None = None,
        others: dict[str, Language] | None = None,
    ) -> None:
        self.nlp = nlp  # None: entities disabled
        # Models for other languages, by language code: their NER only, without the English
        # re-casing and gazetteer ruler (those are English data).
        self.others = others or {}
        self.aliases = aliases
        self.gazetteer = gazetteer or Gazetteer.load(aliases)
        self.reader = EntityReader(aliases, self.gazetteer)  # English
        self.plain = PlainReader(aliases, self.gazetteer)  # every other language
        self.recase = Recaser.build(aliases, self.gazetteer, nlp.path if nlp else None)
        # (text_hash, digest of the body) -> entities. text_hash alone is not enough: it is
        # computed over lower-cased words, and offsets need the very same text.
        self._cache: OrderedDict[tuple[str, str], list[Entity]] = OrderedDict()
        self.cache_hits = 0
        self.zone_after = ZONE_AFTER_TEXTS
        self.texts_run = 0

    def process(self, batch: Sequence[DedupedArticle]) -> list[Outcome]:
        reasons = [self.skip_reason(article) for article in batch]
        keys = [self._key(a) if not why else None for a, why in zip(batch, reasons, strict=True)]
        # One model run per distinct body in the batch, grouped by the model that runs it.
        # Results are collected for this batch first: remembering new ones may evict cached
        # entries this batch still needs.
        found: dict[tuple[str, str], list[Entity]] = {}
        todo: dict[str, dict[tuple[str, str], str]] = {}
        for article, key in zip(batch, keys, strict=True):
            if key is None:
                continue
            if key in found or key in self._cache:
                self.cache_hits += 1
                if key not in found:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
                continue
            lang = self._model_language(article)
            if key not in todo.get(lang, {}):
                body = article.body[:MAX_NER_CHARS]
                todo.setdefault(lang, {})[key] = self.recase(unwrap(body)) if lang == "en" else body
            else:
                self.cache_hits += 1
        for lang, texts in todo.items():
            nlp = self.nlp if lang == "en" else self.others[lang]
            assert nlp is not None
            # Nothing of spaCy's (Doc, Span, string hash) may outlive the zone: the reader
            # copies what it keeps into plain strings.
            zone = nlp.memory_zone() if self.texts_run >= self.zone_after else nullcontext()
            with zone:
                docs = (corenlp.make_doc(nlp, text) for text in texts.values())
                for key, doc in zip(texts, nlp.pipe(docs), strict=True):
                    ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
                    text = corenlp.text_of(doc)
                    found[key] = (self.reader.entities(text, ents) if lang == "en"
                                  else self.plain.entities(text, lang, ents))
                    self._remember(key, found[key])
            self.texts_run += len(texts)
        outcomes: list[Outcome] = []
        for article, why, key in zip(batch, reasons, keys, strict=True):
            if why or key is None:
                outcomes.append(Emit(self.enriched(article, [], skipped=why)))
            else:
                # Each article its own entities and mention lists (the cache keeps the
                # originals); Mention objects are never changed, so they are shared.
                entities = [e.model_copy(update={"mentions": list(e.mentions)}) for e in found[key]]
                outcomes.append(Emit(self.enriched(article, entities)))
        return outcomes

    @staticmethod
    def _key(article: DedupedArticle) -> tuple[str, str]:
        digest = hashlib.blake2b(article.body.encode("utf-8"), digest_size=16).hexdigest()
        return article.text_hash, digest

    def _remember(self, key: tuple[str, str], entities: list[Entity]) -> None:
        self._cache[key] = entities
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _model_language(self, article: DedupedArticle) -> str:
        """"en" for the English model (also for an unknown language), else the language."""
        return article.language if article.language in self.others else "en"

    def skip_reason(self, article: DedupedArticle) -> str | None:
        if self.nlp is None:
            return "disabled"
        lang = article.language
        if lang and lang != self.nlp.lang and lang not in self.others:
            return f"no-model:{lang}"
        return None

    def model_name(self, article: DedupedArticle) -> str | None:
        lang = self._model_language(article)
        nlp = self.nlp if lang == "en" else self.others[lang]
        return describe(nlp) if nlp else None

    def enriched(
        self, article: DedupedArticle, entities: list[Entity], skipped: str | None = None
    ) -> EnrichedArticle:
        def names(type_: EntityType) -> list[str]:
            return [e.name for e in entities if e.type == type_]

        countries = [
            self.country_code(e.name) if e.type == "location" else self.gazetteer.demonym(e.name)
            for e in entities
            if e.type in ("location", "misc")
        ]
        return EnrichedArticle(
            **article.model_dump(exclude={"versions"}),
            versions={**article.versions, NAME: VERSION},
            entities=entities,
            persons=names("person"),
            organizations=names("organization"),
            locations=names("location"),
            countries=list(dict.fromkeys(c for c in countries if c)),
            entities_model=None if skipped else self.model_name(article),
            entities_skipped=skipped,
        )

    def country_code(self, name: str) -> str | None:
        """The country a location is or lies in, where that is not in doubt: the alias file,
        then an exact pycountry name, then GeoNames (no fuzzy search: it maps "Gaza" to
        Mozambique)."""
        return (
            self.aliases.country_codes.get(name)
            or pycountry_code(name)
            or self.gazetteer.country_of(name)
        )

    def close(self) -> None:
        for nlp in [self.nlp, *self.others.values()]:
            if nlp is not None and nlp.has_pipe(corenlp.COMPONENT):
                component = nlp.get_pipe(corenlp.COMPONENT)
                if isinstance(component, corenlp.CoreNlpNer):
                    component.client.close()  # its kept-alive connections
        self.nlp = None


def build(settings: WorkerSettings, context: StageContext) -> EntitiesStage:
    lexicon()  # the data files' patterns, compiled now rather than on the first article
    aliases = Aliases.load()
    gazetteer = Gazetteer.load(aliases)
    nlp = None
    others: dict[str, Language] = {}
    if settings.entities_enabled:
        nlp = load_english(settings)
        add_gazetteer_ruler(nlp, aliases)
        # Languages CoreNLP tags, unless the English backend is spaCy's (no server at all).
        on_corenlp = settings.corenlp_languages if settings.ner_backend == "corenlp" else []
        for lang, package in settings.spacy_models.items():
            if lang in on_corenlp:
                continue
            if spacy.util.is_package(package):  # configured and installed
                others[lang] = load_ner(package)
            else:
                log.warning("no spaCy package %s for language %s: its articles get no "
                            "entities (no-model:%s)", package, lang, lang)
        for lang in on_corenlp:
            others[lang] = load_corenlp(lang, settings)
    return EntitiesStage(nlp, aliases, gazetteer, others)
