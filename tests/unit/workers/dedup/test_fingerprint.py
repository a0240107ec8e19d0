"""dedup fingerprints: tokens, shingles and their hashes, the MinHash sketch, band keys, and
the fingerprints already stored by dedup 2.0."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from datasketch import MinHash

from workers.dedup.fingerprint import (
    NUM_PERM,
    SCHEME,
    SEED,
    Fingerprinter,
    candidate_probability,
    choose_rows,
    jaccard,
    shingle_hashes,
    shingles,
    tokens,
)

from .samples import BRIDGE, BRIDGE_NEAR, BRIDGE_OTHER


def fingerprinter() -> Fingerprinter:
    """As the stage makes it at the default threshold 0.8."""
    return Fingerprinter(rows=choose_rows(0.8))


def test_default_banding_is_18_by_7() -> None:
    assert choose_rows(0.8) == 7
    assert candidate_probability(0.8, 7) == pytest.approx(0.986, abs=0.001)
    assert candidate_probability(0.5, 7) < 0.14  # unrelated-ish pairs rarely even compared

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
    fp = fingerprinter()
    first, again = fp.fingerprint("a", text), fp.fingerprint("b", text)  # nothing carried over
    assert first is not None and again is not None
    assert first.keys[:2] == (hash_key, band_key) and again.keys == first.keys
    assert first.signature[:3].tolist() == signature
    assert first.shingles[:3].tolist() == lowest_hashes and first.shingles.size == distinct
    assert first.signature.dtype == first.shingles.dtype == np.uint32


@pytest.mark.parametrize("size", [1, 2, 211, 5000])
def test_sketch_is_datasketchs_affine32_minhash(size: int) -> None:
    # Our array version of datasketch's update_batch must give its signature exactly.
    fp = fingerprinter()
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

def test_signatures_estimate_jaccard_and_band_keys_find_candidates() -> None:
    fp = fingerprinter()
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
