"""Line rules of the clean stage: a normalised body in, the body without boilerplate lines out.

Boilerplate lines ("Read more", share prompts, cookie notices, ...) are dropped; photo and
source credits, on a line of their own or glued to a paragraph's first word, are taken out and
returned. Patterns: ``workers/data/boilerplate.json``, generic conventions, never one site's;
only short lines are tested. Ours because trafilatura keeps such lines when they sit inside
the article's block, and text input has no HTML tree at all (docs/stages/clean.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).parents[1] / "data" / "boilerplate.json"

# A source credit glued to the first word of a paragraph by a scraper that dropped the
# separator, as in ``cumhuriyet.com.trAl-Araji's remarks``: a lower-case domain at the very
# start of a line followed, with no space, by a capitalised word. A domain inside a sentence
# ("posted on example.com yesterday") or followed by a space is left alone.
_GLUED_CREDIT = re.compile(
    r"^(?P<credit>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,6})(?=[A-Z])"
)


@dataclass(frozen=True)
class LinePatterns:
    """Patterns that must each match a whole line, matched without a scan per start.

    A pattern ``.*X.*`` matches a whole line exactly when ``X`` is found somewhere in it, and
    ``.*X`` when ``X`` is found at its end (a line has no newline for ``.`` to stop at). Tried
    as a whole-line match, the leading ``.*`` makes the engine retry ``X`` from every position
    of every short line (what that cost is in docs/stages/clean.md).
    """

    whole: re.Pattern[str] | None  # matched against the whole line
    inside: re.Pattern[str] | None  # the ``.*X.*`` and ``.*X`` patterns, as searches for X

    @classmethod
    def compile(cls, patterns: list[str]) -> LinePatterns:
        whole, inside = [], []
        for p in patterns:
            if not p.startswith(".*") or _has_top_level_or(p):  # ".*a|b" is no ".*X"
                whole.append(p)
            elif p.endswith(".*") and not p.endswith("\\.*"):
                inside.append(p[2:-2])
            else:
                inside.append(f"(?:{p[2:]})\\Z")
        return cls(_union(whole) if whole else None, _union(inside) if inside else None)

    def fullmatch(self, line: str) -> bool:
        return bool(self.whole and self.whole.fullmatch(line)) or bool(
            self.inside and self.inside.search(line))


@dataclass(frozen=True)
class LineRules:
    max_words: int
    drop: dict[str, LinePatterns]
    credit: LinePatterns

    def kind(self, line: str) -> str | None:
        """``credit``, a drop group's name, or None when the line is text to keep."""
        if _more_words_than(self.max_words).match(line):
            return None
        if self.credit.fullmatch(line):
            return "credit"
        for name, patterns in self.drop.items():
            if patterns.fullmatch(line):
                return name
        return None


def _has_top_level_or(pattern: str) -> bool:
    """Whether the pattern is an alternation at its top level ("a|b"), outside any group or
    character class."""
    depth, in_class, i = 0, False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1  # the escaped character is a literal
        elif in_class:
            in_class = c != "]"
        elif c == "[":  # "[]..." and "[^]..." hold a literal "]"
            in_class = True
            i += 2 if pattern.startswith("[^]", i) else 1 if pattern.startswith("[]", i) else 0
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


@cache
def _more_words_than(n: int) -> re.Pattern[str]:
    # Matches a line of more than n words (``\w+`` runs) without listing them; possessive, so
    # a shorter line fails at once instead of trying every way to split its words.
    return re.compile(rf"(?:\W*+\w++){{{n + 1}}}")


def _union(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@cache
def line_rules(path: Path = RULES_FILE) -> LineRules:
    data = json.loads(path.read_text(encoding="utf-8"))
    return LineRules(
        max_words=int(data["max_words"]),
        drop={name: LinePatterns.compile(patterns) for name, patterns in data["drop"].items()},
        credit=LinePatterns.compile(data["credit"]),
    )


@dataclass
class Cleaned:
    """A body after the line rules, with what they took out."""

    text: str
    credits: list[str] = field(default_factory=list)
    dropped: int = 0


def split_glued_credit(line: str) -> tuple[str | None, str]:
    """``cumhuriyet.com.trAl-Araji's ...`` -> (``cumhuriyet.com.tr``, ``Al-Araji's ...``)."""
    match = _GLUED_CREDIT.match(line)
    if not match:
        return None, line
    return match["credit"], line[match.end() :]


def apply_line_rules(text: str, rules: LineRules | None = None) -> Cleaned:
    """Drop boilerplate lines and split glued credits; credits are returned, not lost.

    ``text`` is normalised already (trimmed lines, paragraphs separated by a blank line).
    """
    rules = rules or line_rules()
    out = Cleaned("")
    kept: list[str] = []
    for line in text.split("\n"):
        credit, line = split_glued_credit(line)
        if credit:
            out.credits.append(credit)
        kind = rules.kind(line) if line else None
        if kind == "credit":
            out.credits.append(line)
        elif kind:
            out.dropped += 1
        else:
            kept.append(line)
            continue
        # A dropped line leaves its paragraph break behind: collapse the blank lines.
        while len(kept) >= 2 and kept[-1] == "" and kept[-2] == "":
            kept.pop()
    out.text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return out
