"""Is this natural-language text, or binary data and noise sent as ``text``? (clean stage)

In: the text an article would get as its body, before normalisation. Out: ``None`` for text,
else a one-line reason for the ``not-text`` skip. Two signals, each bounded to the first
``SAMPLE_CHARS`` characters:

- *undecodable characters*: control characters other than tab and line breaks, U+FFFD,
  surrogates, private-use and unassigned code points. Bytes that were never text, decoded
  with any codec, are full of them; real articles carry a few at most (a stray C1 quote
  from a cp1252 page, a private-use bullet).
- *class switches inside words*: how often two neighbouring characters of one
  whitespace-separated token belong to different classes (upper case, lower case, other
  letters, digits with the punctuation of numbers, anything else). Words switch rarely
  ("The", "McMoRan"); base64, hex dumps and random printable bytes switch at almost every
  character. Digits and ``.,/-:%+()`` are one class, so tables of figures ("6-3/8",
  "1,234.5") read as text.

Ours, not a library's: language identifiers say "no language" for tables of figures as
readily as for noise, and no well-kept package answers "is this binary"; two counts do.
The thresholds and what they were measured on are in docs (the clean stage's page).
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
