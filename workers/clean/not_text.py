"""The clean stage's not-text check: is a body natural language, or binary data and noise?

In: the text an article would get as its body, before normalisation. Out: ``None`` for text,
else a one-line reason for the ``not-text`` skip. Two counts over the first ``SAMPLE_CHARS``:
undecodable characters, and switches of character class inside words (base64, hex and random
bytes switch at almost every character, words rarely). Ours: language identifiers say "no
language" for tables of figures as readily as for noise. Signals, thresholds and what they
were measured on: docs/stages/clean.md.
"""

from __future__ import annotations

import re
import unicodedata

SAMPLE_CHARS = 20_000
# Share of undecodable characters above which a text is taken for binary data.
MAX_UNDECODABLE_SHARE = 0.05
# Share of class switches between neighbouring characters of a token, and how many
# neighbouring pairs a text needs before that share says anything (short texts vary).
MAX_SWITCH_SHARE = 0.40
MIN_PAIRS = 200

_KEPT_CONTROLS = frozenset("\t\n\r")
_UNDECODABLE_CATEGORIES = frozenset(("Cc", "Cs", "Co", "Cn"))
_NUMERIC = frozenset("0123456789.,/-:%+()")
_RUN = re.compile(r"(\S)\1*")


def char_class(char: str) -> str:
    """One letter per class: ``X`` undecodable, ``U``/``L`` upper/lower case, ``A`` other
    letters and marks, ``N`` digits and the punctuation of numbers, ``O`` anything else,
    and a space for whitespace."""
    category = unicodedata.category(char)
    if char in _KEPT_CONTROLS or (char.isspace() and category != "Cc"):
        return " "
    if char == "\ufffd" or category in _UNDECODABLE_CATEGORIES:
        return "X"
    if char in _NUMERIC:
        return "N"
    if category == "Lu":
        return "U"
    if category == "Ll":
        return "L"
    if category[0] in "LM":
        return "A"
    return "N" if category[0] == "N" else "O"


class _ClassTable(dict[int, str]):
    """``str.translate`` table from code point to class letter, filled as characters come
    (in C, so a 5,000-character body costs one pass). Bounded: beyond ``LIMIT`` code points
    new ones are classed but not kept."""

    LIMIT = 100_000

    def __missing__(self, ordinal: int) -> str:
        value = char_class(chr(ordinal))
        if len(self) < self.LIMIT:
            self[ordinal] = value
        return value


_CLASSES = _ClassTable()


def why_not_text(text: str) -> str | None:
    """None when ``text`` reads as natural language; else why not (the skip's detail)."""
    classes = text[:SAMPLE_CHARS].translate(_CLASSES)
    if not classes:
        return None
    bad = classes.count("X")
    if bad > MAX_UNDECODABLE_SHARE * len(classes):
        return (f"{bad} control or undecodable characters in {len(classes)}: "
                "binary data, not text")
    tokens = len(classes.split())
    pairs = len(classes) - classes.count(" ") - tokens
    switches = len(_RUN.findall(classes)) - tokens  # runs of one class, less one per token
    if pairs >= MIN_PAIRS and switches > MAX_SWITCH_SHARE * pairs:
        return (f"{switches / pairs:.0%} of neighbouring characters switch case or class "
                "inside words: encoded or random data, not text")
    return None
