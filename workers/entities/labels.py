"""Entity types, the model labels that map to them, and a mention found in a text.

In: a label of spaCy's (or CoreNLP's, renamed by :mod:`workers.entities.corenlp`). Out: one of
our four types, or None for a label the stage drops (dates, numbers, money, languages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EntityType = Literal["person", "organization", "location", "misc"]

LABEL_TYPES: dict[str, EntityType] = {
    "PERSON": "person",
    "ORG": "organization",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "NORP": "misc",
    "EVENT": "misc",
    "LAW": "misc",
    "PRODUCT": "misc",
    "WORK_OF_ART": "misc",
    # The labels of spaCy's other-language news models (fr_core_news_sm, de_core_news_sm, ...).
    "PER": "person",
    "MISC": "misc",
}


@dataclass(frozen=True)
class NamedSpan:
    """One mention as the rules read it: its offsets, canonical name and type."""

    start: int
    end: int
    name: str  # canonical
    type: EntityType
