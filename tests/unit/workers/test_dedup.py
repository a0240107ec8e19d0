"""Dedup stage with the in-memory store: exact, near and trimmed copies, separate stories,
replays, duplicates inside one batch, and two replicas racing over one store."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pytest
from datasketch import MinHash

from newsflow.config import load_settings
from schemas.articles import CleanArticle, DedupedArticle, article_id, canonical_url, source_of
from workers.dedup import (
    NAME,
    NUM_PERM,
    SCHEME,
    SEED,
    VERSION,
    ArticleState,
    DedupStage,
    MemoryStore,
    Snapshot,
    WriteResult,
    build,
    candidate_probability,
    choose_rows,
    exact_jaccard,
    jaccard,
    shingle_hashes,
    shingles,
    tokens,
)
from workers.stage import Emit, Skip, StageContext

BRIDGE = """\
The Harbour Bridge will close to all traffic for nine days from Monday while engineers replace
the worn expansion joints on its northern approach, the city transport department said on
Thursday.

Officials said the joints, installed in 1987, had reached the end of their working life and
that inspectors had found cracks in two of the steel plates during a routine survey in March.
Buses will be diverted through the tunnel and the ferry service will run every ten minutes
instead of every twenty during the morning and evening peaks.

Local businesses on the waterfront warned that the closure would cost them trade during the
spring festival, when visitor numbers usually double. The chamber of commerce asked the
council to delay the work until the autumn, but the department said the repairs could not wait.

"We understand the disruption this causes, but safety comes first," said the department's
chief engineer, Maria Lindqvist. Cyclists and pedestrians will be able to use the eastern
walkway for most of the closure, except for two nights when the cranes are in place.

The work is expected to cost 14 million and is funded by the regional infrastructure budget.
"""

# Another story on the same topic: same bridge, same closure, written from scratch.
BRIDGE_OTHER = """\
Commuters faced long queues at the ferry terminals on Monday morning, the first day of the
Harbour Bridge shutdown, as thousands of drivers looked for other ways into the city centre.

Some passengers said they had waited more than forty minutes for a boat, despite the extra
sailings promised by the transport department. The tunnel was jammed from seven o'clock, and
several bus routes ran up to half an hour late according to the operator's own figures.

Shop owners near the old market said their tills had been quiet. One cafe owner, who asked
not to be named, said takings had fallen by a third compared with an ordinary Monday in April.

The department asked people to travel outside the rush hour where they could and to check the
live timetable before setting off. It said the repair crews were on schedule and that the
bridge should reopen as planned next Wednesday.
"""

RATES = """\
The central bank left its main interest rate unchanged at 3.5 percent on Wednesday, saying
inflation was falling more slowly than it had expected at the start of the year.

The governor told reporters that the labour market remained tight and that wage growth was
still running above the level consistent with the two percent target. Markets had priced in
a small chance of a cut, and the currency rose slightly after the announcement.

Economists said the decision left the door open to a reduction in the summer if price growth
in services eased. Two of the seven members of the rate committee voted for a quarter point
cut, the minutes showed, up from one member at the previous meeting.

Retail groups criticised the decision, saying households were still struggling with high
borrowing costs, while savers' associations welcomed it. The bank will publish its next
forecasts in June together with an updated assessment of the housing market.
"""

LIBRARY = """\
The new public library in the eastern district opened its doors on Saturday after six years
of planning and a two year building project that ran several months over schedule.

The four storey building holds more than 200,000 books, a music studio that members can book
by the hour, and a rooftop reading garden planted with native grasses. Hundreds of families
queued in the rain before the ribbon was cut by the youngest member of the reading club.

The architect said the design was meant to feel like a covered square rather than a quiet
hall, with a cafe and exhibition space on the ground floor. The library will stay open until
ten in the evening on weekdays, later than any other public building in the district.
"""


def make(url: str, body: str, title: str | None = "A headline") -> CleanArticle:
    return CleanArticle(
        id=article_id(url),
        url=url,
        canonical_url=canonical_url(url),
        source=source_of(url),
        title=title,
        body=body,
        word_count=len(body.split()),
        versions={"clean": "1"},
    )


def edited(body: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in body, old
        body = body.replace(old, new, 1)
    return body


def trimmed(body: str) -> str:
    """Wire copy cut at the end: the last paragraph dropped."""
    return "\n\n".join(body.strip().split("\n\n")[:-1])


# A re-headlined copy: same body, one word changed and a credit line added.
BRIDGE_NEAR = edited(
    BRIDGE,
    ("routine survey in March", "routine survey in April"),
    ("regional infrastructure budget.", "regional infrastructure budget. (Reporting by Ana Ruiz)"),
)


def new_stage() -> DedupStage:
    return build(load_settings(dedup_threshold=0.8), StageContext(offline=True))


def run(stage: DedupStage, *articles: CleanArticle) -> list[DedupedArticle]:
    out = []
    for outcome in stage.process(list(articles)):
        assert isinstance(outcome, Emit), outcome
        assert isinstance(outcome.article, DedupedArticle)
        out.append(outcome.article)
    return out


def decision(a: DedupedArticle) -> tuple[object, ...]:
    return (a.cluster_id, a.is_duplicate, a.duplicate_of, a.similarity, a.duplicate_kind)


def test_default_banding_is_18_by_7() -> None:
    assert choose_rows(0.8) == 7
    assert candidate_probability(0.8, 7) == pytest.approx(0.986, abs=0.001)
    assert candidate_probability(0.5, 7) < 0.14  # unrelated-ish pairs rarely even compared


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


@pytest.mark.parametrize("text", [
    BRIDGE, "Zürich's café reopens: the façade of Müller & Söhne, after 9 months", "one",
    "two words", "a b c d e f g h i", "a b c d e f g h i j", "", "x y z x y z x y z x y z"])
def test_shingles_are_the_words_joined_by_spaces(text: str) -> None:
    # The definition that stored shingle hashes follow; shingle_hashes takes a faster path to
    # their crc32 (tested below against this).
    words = tokens(text)
    size = 5 if len(words) >= 10 else min(2, len(words))
    expected = {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}
    assert shingles(words) == expected


# What the code of dedup 2.0 made of these texts, and so what state indices hold: a faster path
# must give the same hashes, or stored articles stop matching new copies of them.
PINNED = [
    (BRIDGE, "h:60622ff17d6fab92ca44de01217656f83eb47ae29f2d823ae54d6bcaffadc888",
     "b7.0.c2f2a00f90ab56c8", [1565250, 18290260, 14730005], [6860327, 12728681, 46919434], 191),
    ("Zürich's café reopens: the façade of Müller & Söhne, after 9 months",
     "h:67fbd5f138c86ac073e34bd3ac3882df74f354005597c6ce31cf136cb0dfa9b1",
     "b7.0.0fe76e365ccf0b07", [414819889, 396419130, 597828247],
     [195682078, 1156510463, 1564290506], 8),
    ("two words", "h:a03f1d611645eb53ad16c1af546ca0792dc884505bab57ede80f4dad6b911d3a",
     "b7.0.f942f3fee2a06f48", [786903291, 1357967724, 2359851982], [551472725], 1),
]


@pytest.mark.parametrize(
    ("text", "hash_key", "band_key", "signature", "lowest_hashes", "distinct"), PINNED)
def test_fingerprints_match_those_already_stored(
    text: str, hash_key: str, band_key: str, signature: list[int], lowest_hashes: list[int],
    distinct: int,
) -> None:
    fp = new_stage().fingerprinter
    first, again = fp.fingerprint("a", text), fp.fingerprint("b", text)  # nothing carried over
    assert first is not None and again is not None
    assert first.keys[:2] == (hash_key, band_key) and again.keys == first.keys
    assert first.signature[:3].tolist() == signature
    assert first.shingles[:3].tolist() == lowest_hashes and first.shingles.size == distinct
    assert first.signature.dtype == first.shingles.dtype == np.uint32


@pytest.mark.parametrize("size", [1, 2, 211, 5000])
def test_sketch_is_datasketchs_affine32_minhash(size: int) -> None:
    # Our array version of datasketch's update_batch must give its signature exactly.
    fp = new_stage().fingerprinter
    rng = np.random.default_rng(size)
    hashes = np.unique(rng.integers(0, 2**32, size=size, dtype=np.uint64).astype(np.uint32))
    hashes[-1] = 2**32 - 1  # the widest value wraps as datasketch's does
    reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=int)
    reference.update_batch(hashes.tolist())
    signature = fp.sketch(hashes)
    assert signature.dtype == np.uint32 and signature.shape == (NUM_PERM,)
    assert signature.tolist() == np.asarray(reference.hashvalues).tolist()


def test_shingle_hashes_are_the_crc32_of_the_shingles() -> None:
    for text in (BRIDGE, "Zürich's café reopens: the façade of Müller & Söhne, after 9 months",
                 "x y z x y z x y z x y z", "one"):
        words = tokens(text)
        expected = {zlib.crc32(s) for s in shingles(words)}
        assert sorted(set(shingle_hashes(words))) == sorted(expected)


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


def test_signatures_estimate_jaccard_and_band_keys_find_candidates() -> None:
    stage = new_stage()
    fp = stage.fingerprinter
    a = fp.fingerprint("a", BRIDGE)
    b = fp.fingerprint("b", BRIDGE_NEAR)
    c = fp.fingerprint("c", BRIDGE_OTHER)
    assert a is not None and b is not None and c is not None
    assert jaccard(a.signature, b.signature) >= 0.8
    assert jaccard(a.signature, c.signature) < 0.2
    assert a.keys[0] == f"h:{a.text_hash}" and len(a.keys) == 1 + 18
    # Near copies share band keys; a different story shares none.
    assert set(a.keys[1:]) & set(b.keys[1:])
    assert not set(a.keys[1:]) & set(c.keys[1:])


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
