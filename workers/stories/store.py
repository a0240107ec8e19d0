"""The stories' state: what a story is, how an article joins one, and the in-memory store.

``Story`` is one story as the store keeps it; ``joined(story, member)`` the story after one
more article (the same rule in every store, so replicas and the offline worker agree);
``StoryStore`` what the stage needs of a store; ``MemoryStore`` keeps stories in this
process (offline runs, unit tests). ``workers.stories.es_store`` shares them between
replicas through Elasticsearch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

MAX_LISTED = 50  # sources and languages kept per story (the biggest stories run everywhere)


@dataclass(frozen=True)
class Member:
    """An article as it joins (or founds) a story."""

    article_id: str
    source: str
    language: str | None
    title: str
    text: str
    vector: list[float] | None  # None: an article without words
    seen_at: float  # epoch seconds


@dataclass(frozen=True)
class Story:
    story_id: str
    founded_at: float
    last_seen: float
    size: int
    vector: list[float] | None
    title: str
    text: str
    language: str | None
    representative: str  # article id of the member whose text stands for the story
    representative_fit: float
    sources: tuple[str, ...]
    languages: tuple[str, ...]
    merged_into: str | None = None


def story_id_of(article_id: str) -> str:
    """A founded story's id: its founder's article id, so that a replay founds the same."""
    return f"s-{article_id}"


def founded(member: Member) -> Story:
    return Story(story_id_of(member.article_id), member.seen_at, member.seen_at, 1,
                 member.vector, member.title, member.text, member.language,
                 member.article_id, 1.0, (member.source,),
                 (member.language,) if member.language else ())


def _mean(old: list[float] | None, n: int, new: list[float] | None) -> list[float] | None:
    """The unit-length mean of a story's ``n`` vectors and one more."""
    if old is None or new is None:
        return old or new
    total = [a * n + b for a, b in zip(old, new, strict=True)]
    norm = math.sqrt(sum(v * v for v in total))
    return [v / norm for v in total] if norm else old


def joined(story: Story, member: Member) -> Story:
    """``story`` after ``member`` joined it: one more article, its vector moved towards the
    member's, its outlets and languages widened; the member becomes the representative when
    it is closer to the new vector than the representative was to the vector of its day."""
    vector = _mean(story.vector, story.size, member.vector)
    fit = (sum(a * b for a, b in zip(vector, member.vector, strict=True))
           if vector and member.vector else 0.0)
    sources = story.sources if member.source in story.sources else (
        (*story.sources, member.source))[:MAX_LISTED]
    languages = story.languages if not member.language or member.language in story.languages \
        else (*story.languages, member.language)[:MAX_LISTED]
    out = replace(story, size=story.size + 1, last_seen=max(story.last_seen, member.seen_at),
                  vector=vector, sources=sources, languages=languages)
    if fit > story.representative_fit:
        out = replace(out, title=member.title, text=member.text, language=member.language,
                      representative=member.article_id, representative_fit=fit)
    return out


class StoryStore(Protocol):
    def nearest(self, vectors: Sequence[list[float] | None], since: float, k: int
                ) -> list[list[Story]]:
        """For each vector, up to ``k`` stories seen since ``since`` and not merged, nearest
        first (none for a None vector)."""
        ...

    def founding(self) -> AbstractContextManager[None]:
        """Held while founding: one holder at a time over all replicas; what ``create`` wrote
        inside is visible to every ``nearest`` once it is let go."""
        ...

    def create(self, stories: Sequence[Story]) -> None:
        """New stories (inside ``founding``); one that exists already (a replay) is kept."""
        ...

    def join(self, members: Sequence[tuple[str, Member]]) -> None:
        """Each (story id, member) applied with :func:`joined`, safe against other replicas
        joining the same story at the same moment."""
        ...

    def merge(self, young: str, old: str) -> None:
        """Record that story ``young`` proved to be ``old``."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """Stories in this process (offline runs, tests): exact nearest neighbours by one matrix
    product a look-up, a founding lock that is a no-op."""

    def __init__(self) -> None:
        self.stories: dict[str, Story] = {}

    def nearest(self, vectors: Sequence[list[float] | None], since: float, k: int
                ) -> list[list[Story]]:
        live = [s for s in self.stories.values()
                if s.last_seen >= since and s.merged_into is None and s.vector]
        if not live:
            return [[] for _ in vectors]
        matrix = np.array([s.vector for s in live])
        out: list[list[Story]] = []
        for vec in vectors:
            if vec is None:
                out.append([])
                continue
            similarity = matrix @ np.array(vec)
            out.append([live[i] for i in np.argsort(-similarity, kind="stable")[:k]])
        return out

    @contextmanager
    def founding(self) -> Iterator[None]:
        yield

    def create(self, stories: Sequence[Story]) -> None:
        for story in stories:
            self.stories.setdefault(story.story_id, story)

    def join(self, members: Sequence[tuple[str, Member]]) -> None:
        for story_id, member in members:
            self.stories[story_id] = joined(self.stories[story_id], member)

    def merge(self, young: str, old: str) -> None:
        self.stories[young] = replace(self.stories[young], merged_into=old)

    def close(self) -> None:
        pass
