"""Layout and casing before the model, character for character, so every offset still holds.

In: an article's body. Out: the same number of characters, with hard-wrapped lines joined by a
space (:func:`unwrap`: "Morgan\\nStanley" is one name to the model) and ALL-CAPS headlines and
datelines re-cased (:class:`Recaser`: "LONDON (Reuters) -" -> "London (Reuters) ."), because the
models read capitals as names. Tokenised text with a sentence a line (CoNLL's layout) and tables
are left alone.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.lookups import Lookups

from workers.entities.gazetteer import Aliases, Gazetteer

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019.\-][^\W\d_]+)*\.?")
# An ALL-CAPS place opening a line, before "(Reuters)", a comma or a dash: a wire dateline.
_DATELINE = re.compile(r"^[ \t]*([A-Z][A-Z.'\- ]*[A-Z.])(?=\s*[(,]|\s+[-\u2013\u2014]\s)", re.M)
_DATELINE_DASH = re.compile(r"\s[-\u2013\u2014]\s")
_SENTENCE_OPENERS = frozenset('.!?:;"\'(\u201c\u2018-\u2013\u2014')

# A hard-wrapped line (wire copy of the 1980s, e-mail, plain-text feeds): long, with lower-case
# letters (not a headline), not ending a sentence or with a date, and followed by a line that
# goes on with a letter (not a numbered list).
_WRAPPED_LINE = re.compile(
    r"^(?=[^\n]*[a-z])[^\n]{40,}[^\n.!?:](?<!\d{4}-\d\d-\d\d)\n(?=[ \t]*[^\W\d_])", re.M
)
MAX_WRAP_WIDTH = 100  # hard-wrapped text has no longer line; one paragraph a line has
WRAP_SLACK = 5


def unwrap(text: str) -> str:
    """Join hard-wrapped lines with a space, keeping offsets: "Morgan\nStanley and Co" is one
    name to the model, and a line break is otherwise where a span is cut. Text with a line
    longer than any wrap width (a paragraph or a sentence a line) is left as it is."""
    width = max(len(line) for line in text.split("\n"))
    if width > MAX_WRAP_WIDTH:
        return text

    def join(m: re.Match[str]) -> str:
        line = m[0][:-1]
        end = text.find("\n", m.end())
        rest = text[m.end() : end if end >= 0 else None]
        # Wrapped, the next word (nearly: wrap widths vary a little) did not fit on the line,
        # which a table's line would have taken; the line under is no headline either
        # ("...\nROTTERDAM (Reuters)").
        fits = len(line) + 1 + len(rest.split(maxsplit=1)[0]) <= width - WRAP_SLACK
        return m[0] if fits or not any(c.islower() for c in rest) else line + " "

    return _WRAPPED_LINE.sub(join, text)


@functools.cache
def _common_words(model_path: Path | None) -> frozenset[str]:
    """Lower-case English words, to re-case ALL-CAPS text ("WIN" -> "win", "SMITH" -> "Smith").

    Stop words, and the verbs, adjectives and adverbs of the lemmatizer tables that spaCy's
    English pipelines ship in their folder (nouns are left out: many are also surnames).
    """
    words = set(STOP_WORDS)
    tables = model_path / "lemmatizer" / "lookups" if model_path else None
    if tables and tables.is_dir():
        index = Lookups().from_disk(tables).get_table("lemma_index", {})
        for pos in ("verb", "adj", "adv"):
            words.update(index.get(pos, []))
    else:
        log.info("no lemma tables in %s: ALL-CAPS text re-cased with stop words only", model_path)
    return frozenset(words)


def _is_shouting(line: str) -> bool:
    """An ALL-CAPS line: a wire headline (four letters or more, nine in ten capitals)."""
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


@dataclass(frozen=True)
class Recaser:
    """Re-case ALL-CAPS headlines and datelines for a case-sensitive model, keeping offsets:
    a word as the article writes it inside its sentences ("unit", "Hughes"), else a common
    word in lower case and any other word capitalised ("London"); known acronyms ("NATO",
    "UN") keep their capitals."""

    names: frozenset[str]  # casefolded names that are always capitalised
    acronyms: frozenset[str]  # upper-case spellings kept as they are ("NATO", "U.S.")
    common: frozenset[str]

    @classmethod
    def build(cls, aliases: Aliases, gazetteer: Gazetteer, model_path: Path | None) -> Recaser:
        spellings = [s for forms in aliases.surfaces.values() for s in forms]
        acronyms = {
            s for s in spellings if s.isupper() and s.casefold().replace(".", "") not in STOP_WORDS
        }
        names = {*gazetteer.countries, *gazetteer.demonyms, *(s.casefold() for s in spellings)}
        # Words of multi-word names too ("SAUDI ARABIA"), bar "and", "of", "the".
        names |= {w for n in list(names) for w in n.split() if w not in STOP_WORDS}
        return cls(frozenset(names), frozenset(acronyms), _common_words(model_path))

    def word(self, w: str, casings: dict[str, str] | None = None) -> str:
        if w in self.acronyms:
            return w
        stem = w.rstrip(".")
        key = stem.casefold()
        # As the article writes the word in its sentences, if it does.
        if casings and (written := casings.get(key)) and len(written) == len(stem):
            return written + w[len(stem) :]
        if key not in self.names and any(
            key.removesuffix(s) in self.common for s in ("", "s", "es", "ed", "d", "ing")
        ):
            new = w.lower()
        else:  # a name, or a word we cannot tell from one: capitalised, "AL-AIN" -> "Al-Ain"
            new = re.sub(r"[^\W\d_]+", lambda m: m[0][0].upper() + m[0][1:].lower(), w)
        return new if len(new) == len(w) else w  # a few letters change length when re-cased

    def span(self, text: str, casings: dict[str, str] | None = None) -> str:
        return _WORD.sub(lambda m: self.word(m[0], casings), text)

    @staticmethod
    def casings(lines: Iterable[str]) -> dict[str, str]:
        """How the article itself writes each word inside its sentences ("unit", "Hughes",
        "Orange-Co"): the best guide to its headline's casing. A sentence's first word is
        capitalised whatever it is, so it does not count."""
        seen: dict[str, Counter[str]] = {}
        for line in lines:
            for m in _WORD.finditer(line):
                before = m.start() - 1  # the last character before the word, spaces skipped
                while before >= 0 and line[before].isspace():
                    before -= 1
                if before >= 0 and line[before] not in _SENTENCE_OPENERS:
                    stem = m[0].rstrip(".")
                    seen.setdefault(stem.casefold(), Counter())[stem] += 1
        return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}

    def __call__(self, text: str) -> str:
        lines = text.split("\n")
        shouting = [_is_shouting(line) for line in lines]
        casings: dict[str, str] | None = None
        for i, line in enumerate(lines):
            if not shouting[i] and not _DATELINE.match(line):
                continue
            if casings is None:  # only for articles that need it
                casings = self.casings(x for x, caps in zip(lines, shouting, strict=True)
                                       if not caps)
            if shouting[i]:
                lines[i] = self.span(line, casings)
            elif m := _DATELINE.match(line):
                line = line[: m.start(1)] + self.span(m[1], casings) + line[m.end(1) :]
                # The dash after the dateline becomes a full stop, or the model reads
                # "Phoenix - Taiwan Semiconductor" as one name.
                if dash := _DATELINE_DASH.search(line, m.end(1), m.end(1) + 40):
                    line = line[: dash.start() + 1] + "." + line[dash.end() - 1 :]
                lines[i] = line
        return "\n".join(lines)
