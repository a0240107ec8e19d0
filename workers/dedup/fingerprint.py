"""Fingerprints of the dedup stage: a text in, its hash, MinHash, shingle set and claim keys out.

What is compared is the headline and the body, as lower-cased ``\\w+`` tokens: ``text_hash``
is sha256 of the tokens joined by spaces, the MinHash (datasketch's ``affine32`` scheme, crc32
as the shingle hash, 128 permutations, seed 1) is over word 5-shingles (bigrams under 10
tokens), and the claim keys are the hash and one LSH band key per band. Stored state is only
comparable to fingerprints made the same way: changing any of this needs a new VERSION and a
new state index. The reasons and the banding's figures are in docs/stages/dedup.md.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from datasketch import MinHash
from numpy.typing import NDArray

NUM_PERM = 128
SEED = 1
SCHEME: Final = "affine32"  # datasketch >= 2.0; values are uint32, so they fit an ES ``long``
SHINGLE = 5
SHORT_TEXT = 10  # bodies with fewer tokens than this are shingled as bigrams
MIN_RECALL = 0.98  # chance that a pair exactly at the threshold becomes a candidate

_WORD = re.compile(r"\w+")

Signature = NDArray[np.uint32]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens: what both the hash and the shingles are made of."""
    return _WORD.findall(text.lower())


def article_text(title: str | None, body: str) -> str:
    """What is compared: the headline, then the body (docs/stages/dedup.md says why)."""
    return f"{title}\n{body}" if title else body


def text_hash(words: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def shingles(words: Sequence[str]) -> set[bytes]:
    """The distinct word shingles, each its words joined by single spaces, in UTF-8."""
    size = _shingle_size(words)
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def shingle_hashes(words: Sequence[str]) -> list[int]:
    """crc32 of every shingle of ``shingles(words)``, repeats included (a sketch's minimum and
    a sorted set of distinct hashes come out the same either way, without a set of shingles)."""
    size = _shingle_size(words)
    text = " ".join(words)
    data = text.encode("utf-8")
    # Each shingle is a slice of the joined text, hashed in place (memoryview: no copy).
    # starts[i] is where word i begins in ``data``; in ASCII (most wire copy) a word's length
    # in bytes is its length, otherwise each word is encoded to measure it.
    lengths = map(len, words) if len(data) == len(text) else (len(w.encode()) for w in words)
    ends = np.cumsum(np.fromiter(lengths, dtype=np.int64, count=len(words)) + 1)
    starts = [0, *ends.tolist()]
    view = memoryview(data)
    return [zlib.crc32(view[a : b - 1]) for a, b in zip(starts, starts[size:], strict=False)]


def _sorted_distinct(values: Signature) -> Signature:
    """``np.unique`` of a few hundred values, without its hashing step (it hashes, then sorts)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def _fmix32(values: Signature) -> Signature:
    """MurmurHash3's 32-bit finalizer: datasketch's ``affine32`` pre-mix of each input hash."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint32(16))
        values = values * np.uint32(0x85EBCA6B)
        values = values ^ (values >> np.uint32(13))
        values = values * np.uint32(0xC2B2AE35)
        return values ^ (values >> np.uint32(16))


def _shingle_size(words: Sequence[str]) -> int:
    return SHINGLE if len(words) >= SHORT_TEXT else min(2, len(words))


def candidate_probability(similarity: float, rows: int, num_perm: int = NUM_PERM) -> float:
    """Chance that two texts of this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - similarity**rows) ** (num_perm // rows)


def choose_rows(threshold: float, num_perm: int = NUM_PERM, min_recall: float = MIN_RECALL) -> int:
    """Most rows per band such that a pair at ``threshold`` is a candidate often enough."""
    for rows in range(num_perm, 1, -1):
        if candidate_probability(threshold, rows, num_perm) >= min_recall:
            return rows
    return 1


def jaccard(a: Signature, b: Signature) -> float:
    """MinHash estimate of the Jaccard similarity: the share of equal signature values."""
    return float(np.count_nonzero(a == b)) / float(a.size)


def exact_jaccard(a: Signature, b: Signature) -> float:
    """Jaccard similarity of two sorted sets of distinct shingle hashes."""
    common = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - common
    return common / union if union else 1.0


@dataclass(frozen=True, eq=False)
class Fingerprint:
    article_id: str
    text_hash: str
    signature: Signature
    keys: tuple[str, ...]  # the hash claim first, then one claim per band
    shingles: Signature  # sorted distinct crc32 of the shingles, for exact verification


class Fingerprinter:
    """Makes fingerprints; permutations are drawn once, not per article (they dominate)."""

    def __init__(self, rows: int, num_perm: int = NUM_PERM) -> None:
        self.rows = rows
        self.bands = num_perm // rows
        # datasketch draws the permutations (making a MinHash draws them each time: once here)
        a, b = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)

    def fingerprint(self, article_id: str, text: str) -> Fingerprint | None:
        """None when the text has no words."""
        words = tokens(text)
        if not words:
            return None
        # crc32 is the shingle hash (cheaper than datasketch's default sha1; affine32 mixes
        # it anyway). Hashed once here for both the sketch and the exact-verification set.
        distinct = _sorted_distinct(np.asarray(shingle_hashes(words), dtype=np.uint32))
        signature = self.sketch(distinct)
        digest = text_hash(words)
        return Fingerprint(article_id, digest, signature, self.keys(digest, signature), distinct)

    def sketch(self, hashes: Signature) -> Signature:
        """The MinHash signature of a non-empty set of 32-bit hashes, as datasketch's ``affine32``
        ``update_batch`` makes it. Ours because that call converts every value through a Python
        list and ``int()``; this is the same arithmetic on the array, tested equal to
        datasketch's output (what it saves: docs/stages/dedup.md)."""
        mixed = _fmix32(hashes.reshape(-1, 1))
        with np.errstate(over="ignore"):  # uint32 wraparound is the scheme's mod 2^32
            return (mixed * self._a + self._b).min(axis=0)

    def keys(self, digest: str, signature: Signature) -> tuple[str, ...]:
        """Claim keys of a text: also used on a rival's stored signature."""
        bands = []
        for band in range(self.bands):
            chunk = signature[band * self.rows : (band + 1) * self.rows].astype("<u4").tobytes()
            bands.append(f"b{self.rows}.{band}.{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
        return (f"h:{digest}", *bands)

