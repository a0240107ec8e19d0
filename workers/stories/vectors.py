"""An article's story vector, and the keys under which replicas meet when founding stories.

In: a :class:`~workers.stories.similarity.Profile`. Out: ``vector(profile)``, ``DIMS`` floats
of unit length whose dot product approximates the cosine of the two articles' word weights
(feature hashing: each word adds its weight to one coordinate, with a sign, both from a
stable hash of the word), stored with each article and story and searched by kNN in
Elasticsearch; and ``band_keys(vector)``, the signs of the coordinates cut into bands, one key
per band. Two articles of one story share most signs, so at least one band key: replicas
founding stories at the same moment meet on it (``workers.stories.es_store``).

Our own and not a sentence-embedding model: docs/stages/stories.md says what was measured.
"""

from __future__ import annotations

import math
import zlib

from workers.stories.similarity import Profile

DIMS = 256
BAND_BITS = 8
BANDS = DIMS // BAND_BITS


def _slot(word: str) -> tuple[int, float]:
    h = zlib.crc32(word.encode("utf-8"))
    return h % DIMS, (1.0 if (h >> 16) & 1 else -1.0)


def vector(profile: Profile) -> list[float]:
    """The hashed, unit-length word-weight vector of the article's title and text; all zeros
    for an article without words."""
    out = [0.0] * DIMS
    for word, weight in profile.text.items():
        slot, sign = _slot(word)
        out[slot] += sign * weight
    norm = math.sqrt(sum(v * v for v in out))
    return [v / norm for v in out] if norm else out


def band_keys(vec: list[float]) -> list[str]:
    """One key per band of ``BAND_BITS`` coordinates: the band's number and the signs of its
    coordinates as hex ("07-a3"), in ascending order."""
    keys = []
    for band in range(BANDS):
        bits = 0
        for v in vec[band * BAND_BITS:(band + 1) * BAND_BITS]:
            bits = (bits << 1) | (v > 0)
        keys.append(f"{band:02d}-{bits:0{BAND_BITS // 4}x}")
    return keys
