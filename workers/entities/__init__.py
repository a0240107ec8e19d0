"""The entities stage (named-entity recognition): DedupedArticle -> EnrichedArticle.

``build(settings, context)`` makes the stage (:mod:`.stage`); the other modules are its parts:
the CoreNLP client (:mod:`.corenlp`), the pipelines (:mod:`.models`), re-casing
(:mod:`.recase`), span rules (:mod:`.spans`), known names (:mod:`.gazetteer`,
:mod:`.lexicon`), mention rules (:mod:`.mentions`) and merging (:mod:`.merge`).
docs/stages/entities.md describes what it does and how well.
"""

from workers.entities.stage import NAME, VERSION, EntitiesStage, build

__all__ = ["NAME", "VERSION", "EntitiesStage", "build"]
