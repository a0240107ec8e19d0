"""The stories stage: EnrichedArticle -> StoriedArticle, each article placed in its story.

``build(settings, context)`` makes the stage (:mod:`.stage`); its parts: the similarity of
two articles (:mod:`.similarity`), the story vectors (:mod:`.vectors`), the state and the
in-memory store (:mod:`.store`), the store shared by replicas (:mod:`.es_store`).
docs/stages/stories.md describes what it does and how well.
"""

from workers.stories.stage import NAME, VERSION, StoriesStage, build

__all__ = ["NAME", "VERSION", "StoriesStage", "build"]
