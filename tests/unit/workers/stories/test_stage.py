"""The stories stage over the in-memory store: who joins, who founds, replays and merges."""

from __future__ import annotations

from dataclasses import replace

from schemas.articles import StoriedArticle
from tests.unit.workers.stories.samples import (
    OTHER,
    PORT,
    PORT_ES,
    PORT_REWRITE,
    enriched,
    event_pairs,
)
from workers.stage import Emit
from workers.stories.similarity import Similarity
from workers.stories.stage import DAY, StoriesStage
from workers.stories.store import MemoryStore, story_id_of

NOW = 1_760_000_000.0


def stage(store: MemoryStore, clock: float = NOW) -> StoriesStage:
    return StoriesStage(store, Similarity.load(), window_days=7, candidates=10,
                        clock=lambda: clock)


def storied(outcomes: list) -> list[StoriedArticle]:
    assert all(isinstance(o, Emit) for o in outcomes)
    return [o.article for o in outcomes]


PORT_A = enriched("https://a.example/port", PORT)
PORT_B = enriched("https://b.example/rotterdam", PORT_REWRITE)
SNOW = enriched("https://c.example/snow", OTHER)


def test_a_rewrite_joins_the_story_and_an_unrelated_article_founds_its_own() -> None:
    store = MemoryStore()
    [first] = storied(stage(store).process([PORT_A]))
    second, third = storied(stage(store).process([PORT_B, SNOW]))
    assert first.story_id == story_id_of(PORT_A.id) and first.story_score == 1.0
    assert second.story_id == first.story_id and 0.5 < second.story_score < 1.0
    assert third.story_id == story_id_of(SNOW.id)
    story = store.stories[first.story_id]
    assert story.size == 2 and story.sources == ("a.example", "b.example")
    assert len(first.story_vector) == 256 and second.versions["stories"] == "1.0.0"


def test_two_articles_of_a_new_event_in_one_batch_found_one_story() -> None:
    store = MemoryStore()
    outs = storied(stage(store).process([PORT_A, SNOW, PORT_B]))
    assert [o.story_id for o in outs] == [story_id_of(PORT_A.id), story_id_of(SNOW.id),
                                          story_id_of(PORT_A.id)]
    assert store.stories[story_id_of(PORT_A.id)].size == 2
    assert len(store.stories) == 2


def test_a_replayed_article_gets_its_story_again_and_is_not_counted_twice() -> None:
    store = MemoryStore()
    stage(store).process([PORT_A, PORT_B])
    again = storied(stage(store).process([PORT_A]))
    assert again[0].story_id == story_id_of(PORT_A.id) and again[0].story_score == 1.0
    assert store.stories[story_id_of(PORT_A.id)].size == 2


def test_stories_last_seen_before_the_window_are_not_joined() -> None:
    store = MemoryStore()
    stage(store, clock=NOW - 8 * DAY).process([PORT_A])
    [late] = storied(stage(store).process([PORT_B]))
    assert late.story_id == story_id_of(PORT_B.id)


def test_an_article_matching_two_stories_that_are_one_merges_the_younger_into_the_older(
        ) -> None:
    store = MemoryStore()
    stage(store, clock=NOW - 60).process([PORT_A])
    # A second story of the same event, founded apart (as by a replica before the lock).
    twin = replace(store.stories[story_id_of(PORT_A.id)], story_id="s-twin", founded_at=NOW - 30)
    store.stories["s-twin"] = twin
    [out] = storied(stage(store).process([PORT_B]))
    assert out.story_id == story_id_of(PORT_A.id)
    assert store.stories["s-twin"].merged_into == story_id_of(PORT_A.id)
    assert store.stories[story_id_of(PORT_A.id)].merged_into is None


def test_an_article_in_another_language_and_one_without_words_are_placed_too() -> None:
    store = MemoryStore()
    wordless = enriched("https://d.example/x", ("", "... !!! ..."))
    spanish = enriched("https://e.example/huelga", PORT_ES, language="es")
    outs = storied(stage(store).process([PORT_A, spanish, wordless]))
    assert outs[2].story_id == story_id_of(wordless.id) and outs[2].story_vector == []
    assert outs[1].story_id in (story_id_of(PORT_A.id), story_id_of(spanish.id))


def test_each_event_of_a_batch_is_one_story_whatever_the_order() -> None:
    events = event_pairs(8)
    firsts = [enriched(f"https://a.example/{n}", a) for n, (a, _) in enumerate(events)]
    seconds = [enriched(f"https://b.example/{n}", b) for n, (_, b) in enumerate(events)]
    store = MemoryStore()
    outs = storied(stage(store).process([*firsts, *reversed(seconds)]))
    by_id = {o.id: o.story_id for o in outs}
    assert len(store.stories) == 8
    for a, b in zip(firsts, seconds, strict=True):
        assert by_id[a.id] == by_id[b.id] == story_id_of(a.id)
