"""Span rules over the text alone: where a name starts, ends or is cut, and spans read by rule.

In: the (re-cased) text and character offsets. Out: narrower or split offsets, and the spans of
sports teams in result lines and of a wire dateline's places, read by rule rather than by the
model. No model, no gazetteer: the rules that need known names are in
:mod:`workers.entities.mentions`.
"""

from __future__ import annotations

import re
from re import Match

from workers.entities.labels import EntityType
from workers.entities.lexicon import lexicon

LEADING_THE = re.compile(r"the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s?$")  # straight or curly apostrophe
_TRAILING_NUMBERS = re.compile(r"(?:\s+\d[\d.,:/\-]*)+$")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # an abbreviation short of its last dot: "U.N"

# Legal forms left out of organisations' canonical names, so "American Express Co" and
# "American Express" are one entity and one facet value (the mention keeps them).
_FORM = (
    r",?\s+(?:Co|Cos|Corp|Corporation|Inc|Incorporated|Ltd|Limited|plc|PLC|Plc|LLC|L\.L\.C|AG"
    r"|SA|S\.A|NV|N\.V|GmbH|SpA|S\.p\.A)\b\.?"
)
LEGAL_FORM = re.compile(rf"(?:,?\s+(?:and|&)\s+Co\.?(?:{_FORM})*|(?:{_FORM})+)$")
# The same forms after an organisation (or a firm's name the model took for a person) belong
# to its mention: "Merrill Lynch" + " and Co", "Bear Stearns and Co" + " Inc".
FIRM_TAIL = re.compile(rf"(?:,?\s+(?:and|&)\s+Co\b\.?)?(?:{_FORM})*")
# A form on its own is no name; only the English ones, as "SA" or "AG" alone may be one.
LONE_FIRM_FORM = re.compile(r"(?:(?:Co|Cos|Corp|Inc|Ltd|Plc|PLC|LLC)\.?\s*)+")
SENTENCE_END = re.compile(r"[\"'\u201d\u2019)]*\s*(?:$|\n|\s[A-Z\"'\u201c])")
# "Bolt Beranek" + " and Newman" + " Inc": one firm, which the model reads as two.
AND_FIRM = re.compile(rf"\s+(?:and|&)\s+[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)?(?={_FORM}\b)")
# A firm's name runs on into where it is from: "Fashionport Private Ltd of India".
FIRM_OF = re.compile(rf"(?P<person>.+?{_FORM})\s+of\s+(?P<place>[A-Z].*)", re.S)
# A person span that runs on into where they are from: "Aryna Sabalenka of Belarus".
PERSON_OF = re.compile(r"(?P<person>.+?)\s+of\s+(?P<place>[A-Z].*)", re.S)

# Where an entity span never continues: a line break, a spaced dash, the full stop the
# Recaser puts in place of a dateline's dash, a bracket ("... and Industry (JCCI"), a
# score ("Fenwick 2-1 in Al-Ain"), or a comma, bar a firm's form's ("Arsenal, Real Madrid").
SPAN_BREAK = re.compile(
    r"\n| [-\u2013\u2014.] |\s\(|\s\d{1,3}[-:]\d{1,3}\b"
    r"|\s?,\s(?!(?:Inc|Ltd|Corp|Co|LLC|Plc|D\.C)\b)"
)

# A result line of a sports round-up: "Leeds 2 Chelsea 1", "Feyenoord 2-0 NAC Breda". Its
# names are teams, whatever the gazetteer says of them as places.
_TEAM = r"[^\W\d_][^\d\n]*?"
_SCORE_LINE = re.compile(
    rf"[ \t]*(?P<a>{_TEAM})\s+\d{{1,3}}\s+(?P<b>{_TEAM})\s+\d{{1,3}}[ \t]*"
    rf"|[ \t]*(?P<c>{_TEAM})\s+\d{{1,3}}\s*[-\u2013:]\s*\d{{1,3}}\s+(?P<d>{_TEAM})[ \t]*"
)
MAX_SCORE_LINE = 80  # result lines are short; longer lines are prose, not worth the regex

# A wire dateline's place, and its state or country: "MOUNTAIN VIEW, Calif., March 18 -",
# "ABUJA, Nigeria, April 3 -", "WASHINGTON (Reuters) -", "LONDON 1996-08-30", and tokenised
# ("AL-AIN , United Arab Emirates 1996-12-06"). Matched after re-casing; the date or agency
# after it is what makes it a dateline.
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_PLACE_WORDS = r"[A-Z][\w'.\-]*(?: [A-Z][\w'.\-]*){0,3}"
_DATELINE_PLACE = re.compile(
    rf"^[ \t]*(?P<place>{_PLACE_WORDS})(?: ?, (?P<region>{_PLACE_WORDS}))?"
    rf"(?= ?,? {_MONTH} \d{{1,2}}\b| ?,? \((?:Reuters?|AP|AFP|UPI|dpa|Xinhua)\)"
    rf"| ?,? \d{{4}}-\d\d-\d\d\b)",
    re.M,
)
DATELINE_WITHIN = 400  # characters from the top: a dateline opens the story

# Words around a place's name that make it a club's: "beat Liverpool", "Liverpool manager".
# A country's team stays its country (as CoNLL files national teams).
_TEAM_BEFORE = re.compile(
    r"(?:\b(?:beat|beating|defeated|thrashed|v|vs|lost to|drew with|draw with|signed for"
    r"|sign for)\.?\s+(?:the\s+)?)$"
)
_TEAM_AFTER = re.compile(
    r"(?:['\u2019]s)?\s+(?:beat|drew|manager|boss|coach|striker|midfielder|defender|goalkeeper"
    r"|keeper|captain|skipper|winger|forward|fans|supporters|squad|chairman|academy)\b"
)

_AND = re.compile(r"\s+(?:and|&)\s+(?=[A-Z])")
_LAST_WORD = re.compile(r"([A-Za-z]+)\.?$")


def tidy_span(text: str, start: int, end: int, type_: EntityType) -> tuple[int, int]:
    """Narrow ``text[start:end]`` to the name itself: no "the", titles or possessive, and no
    figures after a person or place."""
    if m := LEADING_THE.match(text, start, end):
        start = m.end()
    if type_ == "person" and (m := lexicon().person_prefix.match(text, start, end)):
        start = m.end()
    if m := _POSSESSIVE.search(text, start, end):
        end = m.start()
    if type_ in ("person", "location") and (m := _TRAILING_NUMBERS.search(text, start, end)):
        end = m.start()  # a table's figures: "Kestrel United 3", "Ian Botham 45"
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "-,;:"):
        end -= 1
    if text[end : end + 1] == "." and _DOTTED.fullmatch(text, start, end):
        end += 1  # "U.N." keeps its last dot, which the model leaves to the sentence
    return start, end


def firms_joined(text: str, start: int, end: int) -> list[Match[str]]:
    """Where one organisation span is two firms joined by "and": the left one ends in a legal
    form ("Hale Fire Pump Co and Macomson Machine Co"), or is two words or more ending in an
    organisation word ("Chemical Bank and Marine Midland Banks Inc"). "Procter and Gamble",
    "Securities and Exchange Commission" and "Bolt Beranek and Newman Inc" stay one name."""
    joins = []
    if the := LEADING_THE.match(text, start, end):  # "the Securities and Exchange ..."
        start = the.end()
    head_types = lexicon().head_types
    for m in _AND.finditer(text, start, end):
        last = _LAST_WORD.search(text, start, m.start())
        if last and (LEGAL_FORM.search(text, start, m.start()) or (
                head_types.get(last[1]) == "organization"
                and len(text[start : m.start()].split()) >= 2)):
            joins.append(m)
    return joins


def _teams(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the two teams if ``text[start:end]`` is a result line, else none."""
    if end - start > MAX_SCORE_LINE or not (m := _SCORE_LINE.fullmatch(text, start, end)):
        return []
    return [m.span(g) for g in "abcd" if m[g] is not None]


def score_lines(text: str) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """The result lines of a sports round-up ("Leeds 2 Chelsea 1"): line span -> team spans."""
    lines = (line.span() for line in re.finditer(r"[^\n]+", text))
    return {span: teams for span in lines if (teams := _teams(text, *span))}


def is_team_in_score_line(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is one of the two teams of a result line."""
    line_end = text.find("\n", end)
    line = (text.rfind("\n", 0, start) + 1, len(text) if line_end < 0 else line_end)
    return (start, end) in _teams(text, *line)


def is_team_mention(text: str, start: int, end: int) -> bool:
    """A sports word before or after ``text[start:end]`` makes the place a club's name."""
    return bool(_TEAM_BEFORE.search(text, max(0, start - 20), start)
                or _TEAM_AFTER.match(text, end))


def dateline_places(text: str) -> list[tuple[int, int]]:
    """The place of a dateline near the top of ``text`` and its state or country, if any."""
    m = _DATELINE_PLACE.search(text, 0, DATELINE_WITHIN + 100)
    if not m or m.start() > DATELINE_WITHIN:
        return []
    return [m.span(g) for g in ("place", "region") if m[g] is not None]


def outside(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, end)`` outside the (sorted, disjoint) ``holes``."""
    parts = []
    for s, e in holes:
        if s < end and start < e:
            if start < s:
                parts.append((start, s))
            start = max(start, e)
    return [*parts, (start, end)] if start < end else parts
