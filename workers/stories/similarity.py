"""How alike two articles are as stories: a 0..1 similarity from what each article says.

In: two :class:`Profile` s (``profile(title, text, language)`` makes one). Out:
``Similarity.score(a, b)`` in 0..1 (1 = the same event) and ``same_story(score)`` at the
operating threshold. The score is a fitted linear combination (``similarity.json``, fitted
by ``scripts/fit_stories.py`` on the story-pairs dev set) of these signals:

- the whole text's words, weighted by how rare each word is in its language (the word
  frequencies of the ``wordfreq`` package, so that no corpus of ours is needed for IDF);
- the title alone, and the title with the lead (the first ``LEAD_CHARS`` characters);
- proper names (capitalised runs not at a sentence start) and numbers the two share.

The stage and ``newsflow stories similarity`` both score through here: one code path.
docs/stages/stories.md says how well it does and why these signals.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex  # wordfreq's own dependency; re has no class for upper-case letters
from wordfreq import available_languages, zipf_frequency

PARAMS = Path(__file__).resolve().parents[1] / "data" / "stories" / "similarity.json"
LEAD_CHARS = 600
TEXT_CHARS = 6000  # the rest of a long article adds cost, not signal (docs/stages/stories.md)
RARE = 8.0  # the weight of a word wordfreq has never seen (its scale tops out near 8)

# A word is a run of letters or digits; a name a run of capitalised words, with the particles
# names carry inside them ("Banco de España", "Ursula von der Leyen").
WORD = re.compile(r"\w+")
NAME = regex.compile(
    r"\p{Lu}[\w'\u2019-]*(?:\s+(?:(?:de|del|la|le|van|von|der|di|da|du)\s+)*\p{Lu}[\w'\u2019-]*)*")
NUMBER = re.compile(r"\d[\d.,]*\d|\d")
SENTENCE_END = re.compile(r"[.!?¿¡:\"“”«»]\s*$")
WORDFREQ_LANGUAGES = frozenset(available_languages())


@lru_cache(maxsize=200_000)  # bounded: docs/stages/stories.md, memory
def rarity(word: str, language: str) -> float:
    """How informative ``word`` is in ``language``: 8 minus its Zipf frequency (0 for "the",
    8 for a word never seen); 1.0 for every word of a language wordfreq does not know."""
    if language not in WORDFREQ_LANGUAGES:
        return 1.0
    return RARE - zipf_frequency(word, language)


def weights(text: str, language: str) -> dict[str, float]:
    """word -> (1 + log count) x rarity: a TF-IDF vector with the language's word
    frequencies standing in for document frequencies."""
    counts = Counter(word.lower() for word in WORD.findall(text))
    return {word: (1.0 + math.log(n)) * rarity(word, language) for word, n in counts.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(value * b[word] for word, value in a.items() if word in b)
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def names(text: str, language: str) -> frozenset[str]:
    """Lower-cased proper names: capitalised runs, leaving out a single common word that is
    capitalised only because a sentence starts with it."""
    found = set()
    for match in NAME.finditer(text):
        name = match.group(0)
        starts_sentence = match.start() == 0 or SENTENCE_END.search(text, 0, match.start())
        if " " not in name and starts_sentence and rarity(name.lower(), language) < 3.0:
            continue
        found.add(" ".join(name.lower().split()))
    return frozenset(found)


@dataclass(frozen=True)
class Profile:
    """What the similarity needs of one article, computed once per article."""

    language: str
    title: dict[str, float]
    lead: dict[str, float]
    text: dict[str, float]
    names: frozenset[str]
    numbers: frozenset[str]


def profile(title: str, text: str, language: str | None) -> Profile:
    """An article's :class:`Profile`; ``language`` an ISO 639-1 code, or None when unknown
    (no word is then weighted by rarity)."""
    lang = (language or "").lower()
    body = text[:TEXT_CHARS]
    return Profile(
        language=lang,
        title=weights(title, lang),
        lead=weights(f"{title}\n{text[:LEAD_CHARS]}", lang),
        text=weights(f"{title}\n{body}", lang),
        names=names(f"{title}.\n{body}", lang),
        numbers=frozenset(NUMBER.findall(body)),
    )


FEATURES = ("text", "title", "lead", "names", "numbers")


def features(a: Profile, b: Profile) -> list[float]:
    """The signals of one pair, in ``FEATURES`` order, each in 0..1."""
    return [cosine(a.text, b.text), cosine(a.title, b.title), cosine(a.lead, b.lead),
            jaccard(a.names, b.names), jaccard(a.numbers, b.numbers)]


def expand(signals: list[float]) -> list[float]:
    """The fitted model's inputs: each signal and its square root (most pairs sit near 0,
    where the root spreads them out)."""
    return signals + [math.sqrt(max(s, 0.0)) for s in signals]


@dataclass(frozen=True)
class Similarity:
    """The fitted combination: ``score = clip(bias + weights . expand(features), 0, 1)``."""

    version: str
    weights: tuple[float, ...]
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = PARAMS) -> Similarity:
        params = json.loads(path.read_text(encoding="utf-8"))
        if tuple(params["features"]) != FEATURES:
            raise ValueError(f"{path}: fitted on features {params['features']}, "
                             f"the code computes {list(FEATURES)}: refit it")
        return cls(params["version"], tuple(params["weights"]), params["bias"],
                   params["threshold"])

    def score(self, a: Profile, b: Profile) -> float:
        raw = self.bias + sum(w * x for w, x in zip(self.weights, expand(features(a, b)),
                                                    strict=True))
        return min(1.0, max(0.0, raw))

    def same_story(self, score: float) -> bool:
        return score >= self.threshold
