"""From an article's mentions to its entities: one per name, partial names merged, repeats added.

In: mentions grouped by canonical name (:class:`~workers.entities.labels.NamedSpan`), then the
article's entities and text. Out: entities with their commonest spelling and type; "Assad"
merged onto "Bashar Assad", "Brinkmann" onto "Brinkmann Instruments"; the repeats of a name the
model left unlabelled added as mentions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

from spacy.lang.en.stop_words import STOP_WORDS

from schemas.articles import Entity, Mention
from workers.entities.labels import NamedSpan

_WORD_CHAR = re.compile(r"[\w\-]")
_CAPITALISED_NEXT = re.compile(r"\s+[A-Z]")


def entity(mentions: list[NamedSpan]) -> Entity:
    """One entity from mentions of one canonical name: its commonest spelling and type."""
    name = Counter(m.name for m in mentions).most_common(1)[0][0]
    type_ = Counter(m.type for m in mentions).most_common(1)[0][0]
    spans = sorted((m.start, m.end) for m in mentions)
    return Entity(
        name=name,
        type=type_,
        mentions=[Mention(start=s, end=e) for s, e in spans],
        count=len(spans),
    )


def is_part(short: str, full: str) -> bool:
    """``short``'s words are a contiguous, shorter run of ``full``'s (case-insensitive)."""
    s, f = short.casefold().split(), full.casefold().split()
    return len(s) < len(f) and any(f[i : i + len(s)] == s for i in range(len(f) - len(s) + 1))


def merge_partial_names(
    entities: list[Entity], is_place: Callable[[str], bool] = lambda name: True
) -> list[Entity]:
    """Merge "Assad" into "Bashar Assad" when exactly one full person name contains it.

    A location merges only when ``is_place`` does not know it as one: the model calls a
    lone surname a place now and then ("Carney said" after "Prime Minister Mark Carney"),
    while "Washington" near "George Washington" is the city."""
    persons = [e for e in entities if e.type == "person" and len(e.name.split()) > 1]
    # Only the longest forms are targets, so "Assad" is not torn between two of them.
    full = [p for p in persons if not any(is_part(p.name, o.name) for o in persons)]
    # Names are unique per article (entities were grouped by canonical name).
    targets = {f.name: f.model_copy(deep=True) for f in full}
    kept: list[Entity] = []
    for entity_ in entities:
        if entity_.name in targets:
            kept.append(targets[entity_.name])
            continue
        into = [t for t in targets.values() if is_part(entity_.name, t.name)]
        if len(into) == 1 and not (entity_.type == "location" and is_place(entity_.name)):
            into[0].mentions = sorted(into[0].mentions + entity_.mentions, key=lambda m: m.start)
            into[0].count = len(into[0].mentions)
        else:
            kept.append(entity_)
    return kept


def merge_short_firm_names(
    entities: list[Entity], is_place: Callable[[str], bool]
) -> list[Entity]:
    """Merge "Brinkmann" into "Brinkmann Instruments", whatever the model called it, when
    exactly one organisation of the article starts with it, no person's name holds it
    ("Ford" beside "Henry Ford" stays) and it is not a known place ("Japan")."""
    firms = [e for e in entities if e.type == "organization" and " " in e.name]
    persons = [e.name for e in entities if e.type == "person" and " " in e.name]
    kept: list[Entity] = []
    for entity_ in entities:
        words = entity_.name.casefold().split()
        into = [
            f for f in firms
            if f is not entity_ and len(f.name.split()) > len(words)
            and f.name.casefold().split()[: len(words)] == words
        ]
        if (len(into) == 1 and entity_.type != "misc" and not is_place(entity_.name)
                and not any(is_part(entity_.name, p) for p in persons)):
            firm = into[0]
            firm.mentions = sorted(firm.mentions + entity_.mentions, key=lambda m: m.start)
            firm.count = len(firm.mentions)
        else:
            kept.append(entity_)
    return kept


def whole_word_repeats(text: str, form: str) -> Iterator[int]:
    """Starts of ``form`` in ``text`` as a whole word not followed by a capitalised one, left
    to right, not overlapping. (A regex per form would be compiled per article and name.)"""
    at = text.find(form)
    while at != -1:
        end = at + len(form)
        if ((at == 0 or not _WORD_CHAR.match(text, at - 1))
                and not _WORD_CHAR.match(text, end) and not _CAPITALISED_NEXT.match(text, end)):
            yield at
            at = text.find(form, end)
        else:
            at = text.find(form, at + 1)


def add_unlabelled_repeats(text: str, entities: list[Entity]) -> list[Entity]:
    """Add the repeats of a name that the model labelled elsewhere in the article.

    A case-sensitive model labels a name in one sentence and misses it in the next; a
    person's surname alone refers back to the full name ("Mikel Arteta" ... "Arteta").
    A repeat is a whole-word, same-case occurrence, not inside another mention, not on a
    line break and not followed by another capitalised word ("Paris Saint-Germain").
    """
    owner: dict[str, int | None] = {}  # surface -> entity index; None: two entities
    for i, entity_ in enumerate(entities):
        forms = {text[m.start : m.end] for m in entity_.mentions}
        if entity_.type == "person" and len(words := entity_.name.split()) > 1:
            forms.add(words[-1])
        for form in forms:
            if len(form) >= 3 and form[0].isupper() and form.casefold() not in STOP_WORDS:
                owner[form] = None if owner.get(form, i) != i else i
    taken = sorted((m.start, m.end) for e in entities for m in e.mentions)
    added: dict[int, list[Mention]] = {}
    # Longest form first, then alphabetically: "Vanity Fair" claims its place before "Fair",
    # and the result never depends on the order of a set (it did, with the hash seed).
    for form, who in sorted(owner.items(), key=lambda item: (-len(item[0]), item[0])):
        if who is None or "\n" in form:
            continue
        for start in whole_word_repeats(text, form):
            end = start + len(form)
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            added.setdefault(who, []).append(Mention(start=start, end=end))
    for i, mentions in added.items():
        entity_ = entities[i]
        entity_.mentions = sorted(entity_.mentions + mentions, key=lambda m: m.start)
        entity_.count = len(entity_.mentions)
    return entities
