"""dedup stage with the in-memory store: exact, near and trimmed copies, separate stories,
replays, duplicates inside one batch, and two replicas racing over one store."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence

import pytest

from schemas.articles import CleanArticle, DedupedArticle
from workers.dedup.fingerprint import exact_jaccard, tokens
from workers.dedup.stage import NAME, VERSION, DedupStage
from workers.dedup.store import ArticleState, MemoryStore, Snapshot, WriteResult
from workers.stage import Emit, Skip

from .samples import (
    BRIDGE,
    BRIDGE_NEAR,
    BRIDGE_OTHER,
    LIBRARY,
    RATES,
    decision,
    make,
    new_stage,
    run,
    trimmed,
)


def test_first_article_starts_a_cluster_and_records_its_version() -> None:
    (out,) = run(new_stage(), make("https://a.example/bridge", BRIDGE))
    assert out.cluster_id == out.id
    assert not out.is_duplicate
    assert out.duplicate_of is None and out.similarity is None and out.duplicate_kind is None
    assert out.versions == {"clean": "1", NAME: VERSION}
    assert len(out.text_hash) == 64


def test_exact_copy_under_another_url() -> None:
    stage = new_stage()
    (first,) = run(stage, make("https://a.example/bridge", BRIDGE))
    # Same headline and body, different whitespace, punctuation and case: the same text.
    copy_body = BRIDGE.replace("\n", " ").replace(", the city", " - the City")
    (copy,) = run(stage, make("https://b.example/news/123?utm_source=x", copy_body, "A HEADLINE"))
    assert copy.text_hash == first.text_hash
    assert copy.is_duplicate
    assert copy.duplicate_kind == "exact"
    assert copy.duplicate_of == first.id
    assert copy.similarity == 1.0
    assert copy.cluster_id == first.id


def test_same_body_under_a_new_headline_is_a_near_copy() -> None:
    stage = new_stage()
    (first,) = run(stage, make("https://a.example/bridge", BRIDGE))
    (copy,) = run(stage, make("https://b.example/b", BRIDGE, "Harbour Bridge shut for nine days"))
    assert copy.text_hash != first.text_hash  # the headline is part of the text
    assert copy.duplicate_kind == "near" and copy.duplicate_of == first.id
    assert copy.similarity is not None and 0.9 < copy.similarity < 1.0


def test_same_short_body_under_different_headlines_is_not_a_copy() -> None:
    # Wire notices share their body word for word; only the headline names the company.
    body = "Qtly div 10 cts vs 10 cts prior. Pay April 1. Record March 15."
    stage = new_stage()
    a, b = run(
        stage,
        make("https://a.example/1", body, "Harbour Foods Inc sets quarterly dividend"),
        make("https://a.example/2", body, "Northern Tool Corp sets quarterly dividend"),
    )
    assert not b.is_duplicate and b.cluster_id != a.cluster_id


def test_reheadlined_near_copy() -> None:
    stage = new_stage()
    (first,) = run(stage, make("https://a.example/bridge", BRIDGE))
    (near,) = run(stage, make("https://c.example/b", BRIDGE_NEAR, "Bridge to close for repairs"))
    assert near.text_hash != first.text_hash
    assert near.is_duplicate
    assert near.duplicate_kind == "near"
    assert near.duplicate_of == first.id
    assert near.cluster_id == first.id
    assert near.similarity is not None and 0.8 <= near.similarity < 1.0


def test_trimmed_copy() -> None:
    stage = new_stage()
    (first,) = run(stage, make("https://a.example/bridge", BRIDGE))
    (cut,) = run(stage, make("https://d.example/bridge-cut", trimmed(BRIDGE)))
    assert cut.duplicate_kind == "near"
    assert cut.duplicate_of == first.id
    assert cut.cluster_id == first.id


def test_different_story_on_the_same_topic_stays_separate() -> None:
    stage = new_stage()
    first, other, rates = run(
        stage,
        make("https://a.example/bridge", BRIDGE),
        make("https://a.example/bridge-queues", BRIDGE_OTHER),
        make("https://a.example/rates", RATES),
    )
    for article in (other, rates):
        assert not article.is_duplicate
        assert article.cluster_id == article.id
    assert len({first.cluster_id, other.cluster_id, rates.cluster_id}) == 3


def test_replay_gives_the_same_answer() -> None:
    stage = new_stage()
    batch = [
        make("https://a.example/bridge", BRIDGE),
        make("https://b.example/bridge", BRIDGE),
        make("https://c.example/bridge", BRIDGE_NEAR),
        make("https://a.example/library", LIBRARY),
    ]
    first = run(stage, *batch)
    again = run(stage, *batch)  # the whole batch re-consumed
    single = run(stage, batch[2])  # one message re-delivered alone
    assert [decision(a) for a in again] == [decision(a) for a in first]
    assert decision(single[0]) == decision(first[2])
    # Replays wrote nothing new: a fresh article still finds the original as the first one.
    (late,) = run(stage, make("https://e.example/bridge", BRIDGE))
    assert late.duplicate_of == first[0].id


def test_two_near_duplicates_in_one_batch_share_a_cluster() -> None:
    stage = new_stage()
    first, near, cut, library = run(
        stage,
        make("https://a.example/bridge", BRIDGE),
        make("https://c.example/bridge", BRIDGE_NEAR, "Bridge to close"),
        make("https://d.example/bridge", trimmed(BRIDGE_NEAR)),
        make("https://a.example/library", LIBRARY),
    )
    assert not first.is_duplicate
    assert near.duplicate_of == first.id and near.cluster_id == first.id
    assert cut.is_duplicate and cut.cluster_id == first.id
    assert not library.is_duplicate and library.cluster_id == library.id


def test_same_article_twice_in_one_batch() -> None:
    a, b = run(new_stage(), make("https://a.example/x", RATES), make("https://a.example/x/", RATES))
    assert a.id == b.id
    assert decision(a) == decision(b) and not a.is_duplicate


def test_a_copy_of_a_copy_joins_the_original_cluster() -> None:
    stage = new_stage()
    (first,) = run(stage, make("https://a.example/bridge", BRIDGE))
    (near,) = run(stage, make("https://c.example/bridge", BRIDGE_NEAR))
    (again,) = run(stage, make("https://f.example/bridge", BRIDGE_NEAR))
    assert again.duplicate_kind == "exact" and again.duplicate_of == near.id
    assert again.cluster_id == first.id


def test_body_without_words_is_skipped() -> None:
    outcomes = new_stage().process(
        [make("https://a.example/x", RATES), make("https://a.example/y", "...  --")]
    )
    assert isinstance(outcomes[0], Emit)
    assert isinstance(outcomes[1], Skip) and outcomes[1].reason == "no-words"

def test_short_texts_use_smaller_shingles() -> None:
    # Under 10 tokens there would be at most five 5-shingles, each lost to any edit: bigrams.
    stage = new_stage()
    short = "Storm closes schools and roads across the north"
    a, b, c = run(
        stage,
        make("https://a.example/s1", short),
        make("https://b.example/s2", short + " tonight"),
        make("https://c.example/s3", "Parliament passes the budget bill"),
    )
    assert b.duplicate_of == a.id and b.duplicate_kind == "near"
    assert not c.is_duplicate


def test_similarity_is_the_exact_jaccard_of_the_shingle_sets() -> None:
    stage = new_stage()
    run(stage, make("https://a.example/bridge", BRIDGE))
    (near,) = run(stage, make("https://c.example/b", BRIDGE_NEAR))
    fp = stage.fingerprinter
    a, b = (
        fp.fingerprint("a", f"A headline\n{BRIDGE}"),
        fp.fingerprint("b", f"A headline\n{BRIDGE_NEAR}"),
    )
    assert a is not None and b is not None
    words_a, words_b = tokens(f"A headline {BRIDGE}"), tokens(f"A headline {BRIDGE_NEAR}")
    sets = [{tuple(w[i : i + 5]) for i in range(len(w) - 4)} for w in (words_a, words_b)]
    assert near.similarity == pytest.approx(len(sets[0] & sets[1]) / len(sets[0] | sets[1]))
    assert exact_jaccard(a.shingles, b.shingles) == near.similarity

# --- two replicas over one store ------------------------------------------------------------


class _Interleaved:
    """One MemoryStore under two replicas that read first, then write taking turns every
    ``step`` items; the second replica writes its claims in reverse order, so with a small
    step each replica wins some of the keys the two articles share."""

    def __init__(self, step: int) -> None:
        self.shared = MemoryStore()
        self.step = step
        self.ready = threading.Barrier(2)
        self.cond = threading.Condition()
        self.turn = 0
        self.finished = [False, False]

    def replica(self, me: int) -> _Replica:
        return _Replica(self, me)


class _Replica:
    def __init__(self, parent: _Interleaved, me: int) -> None:
        self.parent = parent
        self.me = me
        self.first_write = True

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        return self.parent.shared.fetch(article_ids, claim_keys)

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        p = self.parent
        if not self.first_write:
            return p.shared.write(articles, claims)
        self.first_write = False
        p.ready.wait()  # both replicas have read everything before either writes
        items = list(claims.items())
        if self.me == 1:
            items.reverse()
        result = WriteResult()
        chunks: list[tuple[list[ArticleState], dict[str, str]]] = [(list(articles), {})]
        chunks += [([], dict(items[i : i + p.step])) for i in range(0, len(items), p.step)]
        for chunk_articles, chunk_claims in chunks:
            with p.cond:
                p.cond.wait_for(lambda: p.turn == self.me or p.finished[1 - self.me])
                r = p.shared.write(chunk_articles, chunk_claims)
                result.existing_articles += r.existing_articles
                result.existing_claims += r.existing_claims
                p.turn = 1 - self.me
                p.cond.notify_all()
        with p.cond:
            p.finished[self.me] = True
            p.cond.notify_all()
        return result

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        self.parent.shared.overwrite(articles)

    def close(self) -> None:
        pass


def _race(step: int, first: CleanArticle, second: CleanArticle) -> list[DedupedArticle]:
    store = _Interleaved(step)
    out: list[list[DedupedArticle]] = [[], []]
    errors: list[BaseException] = []

    def go(me: int, article: CleanArticle) -> None:
        try:
            out[me] = run(DedupStage(store.replica(me), threshold=0.8), article)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [
        threading.Thread(target=go, args=(0, first)),
        threading.Thread(target=go, args=(1, second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    results = out[0] + out[1]
    # What was emitted is what is stored, for a later replay.
    for a in results:
        stored = store.shared.articles[a.id].decision
        assert stored.cluster_id == a.cluster_id and stored.duplicate_of == a.duplicate_of
    return results


@pytest.mark.parametrize("step", [1, 2, 5, 100])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("body", [BRIDGE_NEAR, BRIDGE], ids=["near", "exact"])
def test_two_replicas_racing_agree_on_one_cluster(step: int, swap: bool, body: str) -> None:
    one = make("https://a.example/bridge", BRIDGE)
    two = make("https://z.example/bridge", body)
    a, b = _race(step, *((two, one) if swap else (one, two)))
    assert a.cluster_id == b.cluster_id
    assert a.cluster_id in {a.id, b.id}
    assert [x.is_duplicate for x in (a, b)].count(True) == 1
    duplicate = a if a.is_duplicate else b
    assert duplicate.duplicate_of == duplicate.cluster_id


def test_unrelated_articles_racing_stay_apart() -> None:
    a, b = _race(1, make("https://a.example/rates", RATES), make("https://b.example/lib", LIBRARY))
    assert not a.is_duplicate and not b.is_duplicate


@pytest.mark.parametrize("step", [1, 100])
def test_two_replicas_handling_the_same_article_agree(step: int) -> None:
    same = make("https://a.example/bridge", BRIDGE)
    a, b = _race(step, same, same)
    assert decision(a) == decision(b)
    assert not a.is_duplicate
