"""The stories stage: EnrichedArticle (news.enriched) in, StoriedArticle (news.storied) out.

Each article is scored (``workers.stories.similarity``) against its nearest stories of the
last ``settings.stories_window_days`` (kNN on story vectors) and joins the best one scoring
at least the operating threshold; else it founds a story of its own. Founding happens under
the store's founding lock, after a second look at the stories founded meanwhile, so that two
replicas with two articles of one new event found one story between them. An article that
matches two stories which match each other merges the younger into the older (recorded as
``merged_into``). Every article is emitted; none is skipped. A failing store raises a
``TransientError``: the batch is retried. docs/stages/stories.md says why and how well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache

from schemas.articles import EnrichedArticle, StoriedArticle
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, StageContext
from workers.stories.similarity import Profile, Similarity, profile
from workers.stories.store import (
    Member,
    MemoryStore,
    Story,
    StoryStore,
    founded,
    joined,
    story_id_of,
)
from workers.stories.vectors import vector
from workers.topology import STAGES

NAME = "stories"
VERSION = STAGES[NAME].version
DAY = 86400.0


@lru_cache(maxsize=2048)  # bounded, a worker runs for weeks: docs/stages/stories.md, memory
def story_profile(title: str, text: str, language: str | None) -> Profile:
    """A story representative's profile, cached: the same stories are candidates again and
    again while their event is in the news."""
    return profile(title, text, language)


def _member(article: EnrichedArticle, prof: Profile, seen_at: float) -> Member:
    vec = vector(prof)
    return Member(article.id, article.source, article.language, article.title or "",
                  article.body, vec if any(vec) else None, seen_at)


class StoriesStage:
    name = NAME
    version = VERSION

    def __init__(self, store: StoryStore, model: Similarity, *, window_days: float,
                 candidates: int, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.model = model
        self.window = window_days * DAY
        self.k = candidates
        self.clock = clock

    def _best(self, prof: Profile, member: Member, stories: Sequence[Story]
              ) -> list[tuple[float, Story]]:
        """The stories ``member`` belongs to (score at least the threshold), best first; its
        own story (a replay) scores 1."""
        scored = []
        for story in stories:
            if story.story_id == story_id_of(member.article_id):
                score = 1.0
            else:
                score = self.model.score(
                    prof, story_profile(story.title, story.text, story.language))
            if self.model.same_story(score):
                scored.append((score, story))
        return sorted(scored, key=lambda pair: (-pair[0], pair[1].founded_at))

    def process(self, batch: Sequence[EnrichedArticle]) -> list[Outcome]:
        now = self.clock()
        since = now - self.window
        profiles = [profile(a.title or "", a.body, a.language) for a in batch]
        members = [_member(a, p, now) for a, p in zip(batch, profiles, strict=True)]
        nearest = self.store.nearest([m.vector for m in members], since, self.k)
        placed: dict[int, tuple[str, float]] = {}
        joins: list[tuple[str, Member]] = []
        merges: list[tuple[str, str]] = []
        pending = []
        for i, (prof, member) in enumerate(zip(profiles, members, strict=True)):
            matches = self._best(prof, member, nearest[i])
            if matches:
                placed[i] = self._join(matches, member, joins, merges)
            else:
                pending.append(i)
        if pending:
            self._found(pending, profiles, members, since, placed, joins, merges)
        self.store.join([(sid, m) for sid, m in joins
                         if sid != story_id_of(m.article_id)])
        for young, old in merges:
            self.store.merge(young, old)
        return [self._emit(a, members[i], *placed[i]) for i, a in enumerate(batch)]

    def _join(self, matches: list[tuple[float, Story]], member: Member,
              joins: list[tuple[str, Member]], merges: list[tuple[str, str]]
              ) -> tuple[str, float]:
        """Join the best story; a second match that is the same story as the best one (their
        representatives match too) is merged into the older of the two."""
        score, best = matches[0]
        for _, other in matches[1:]:
            same = self.model.same_story(self.model.score(
                story_profile(best.title, best.text, best.language),
                story_profile(other.title, other.text, other.language)))
            if same:
                old, young = sorted((best, other), key=lambda s: (s.founded_at, s.story_id))
                merges.append((young.story_id, old.story_id))
                best = old
        joins.append((best.story_id, member))
        return best.story_id, round(score, 4)

    def _found(self, pending: list[int], profiles: list[Profile], members: list[Member],
               since: float, placed: dict[int, tuple[str, float]],
               joins: list[tuple[str, Member]], merges: list[tuple[str, str]]) -> None:
        """Under the founding lock: look again (stories founded by other replicas since the
        first look are visible now), then join or found, in batch order, the articles of this
        batch founding stories being candidates for the ones after them."""
        with self.store.founding():
            again = self.store.nearest([members[i].vector for i in pending], since, self.k)
            new: list[Story] = []
            for i, seen in zip(pending, again, strict=True):
                # The stories this batch founded, as they stand with its joins so far.
                local = [self._grown(story, joins) for story in new]
                matches = self._best(profiles[i], members[i], [*seen, *local])
                if matches:
                    placed[i] = self._join(matches, members[i], joins, merges)
                else:
                    new.append(founded(members[i]))
                    placed[i] = (new[-1].story_id, 1.0)
            self.store.create([self._grown(story, joins) for story in new])
            # Joins to stories this batch founded went into create; the rest follow.
            founded_ids = {story.story_id for story in new}
            joins[:] = [(sid, m) for sid, m in joins if sid not in founded_ids]

    @staticmethod
    def _grown(story: Story, joins: list[tuple[str, Member]]) -> Story:
        for sid, member in joins:
            if sid == story.story_id:
                story = joined(story, member)
        return story

    def _emit(self, article: EnrichedArticle, member: Member, story_id: str, score: float
              ) -> Outcome:
        data = dict(article)
        data.update(story_id=story_id, story_score=score,
                    story_vector=[round(v, 5) for v in member.vector or []],
                    versions={**article.versions, NAME: VERSION})
        return Emit(StoriedArticle.model_validate(data))

    def close(self) -> None:
        self.store.close()


def build(settings: WorkerSettings, context: StageContext) -> StoriesStage:
    """Offline: stories in memory. Otherwise in ``settings.stories_index``, shared by all
    replicas."""
    store: StoryStore
    if context.offline:
        store = MemoryStore()
    elif context.es is None:
        raise ValueError("the stories stage needs an Elasticsearch client unless offline")
    else:
        from workers.io import elastic
        from workers.stories.es_store import ElasticsearchStore

        es = context.es
        store = ElasticsearchStore(es, settings.stories_index,
                                   replicas=lambda: elastic.replicas(es, settings))
    return StoriesStage(store, Similarity.load(), window_days=settings.stories_window_days,
                        candidates=settings.stories_candidates)
