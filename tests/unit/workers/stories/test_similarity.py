"""The stories similarity: what it weighs and how it decides, on articles of our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.workers.stories.samples import OTHER, PORT, PORT_ES, PORT_REWRITE
from workers.stories.similarity import (
    FEATURES,
    Similarity,
    cosine,
    features,
    names,
    profile,
    rarity,
)


@pytest.fixture(scope="module")
def model() -> Similarity:
    return Similarity.load()


def test_the_same_event_in_other_words_is_one_story_and_another_event_is_not(
        model: Similarity) -> None:
    port, rewrite, other = (profile(*a, "en") for a in (PORT, PORT_REWRITE, OTHER))
    same, apart = model.score(port, rewrite), model.score(port, other)
    assert model.same_story(same), same
    assert not model.same_story(apart), apart
    assert apart < 0.3 < model.threshold <= same


def test_scores_are_symmetric_and_within_zero_and_one(model: Similarity) -> None:
    a, b = profile(*PORT, "en"), profile(*PORT_ES, "es")
    assert model.score(a, b) == pytest.approx(model.score(b, a))
    assert 0.0 <= model.score(a, b) <= 1.0
    assert model.score(a, a) == 1.0


def test_common_words_weigh_less_than_rare_ones_in_each_language() -> None:
    assert rarity("the", "en") < 2 < rarity("dockworkers", "en")
    assert rarity("el", "es") < 2 < rarity("estibadores", "es")
    # A language wordfreq does not know: every word counts the same.
    assert rarity("the", "xx") == rarity("dockworkers", "xx") == 1.0


def test_sharing_only_common_words_is_not_similarity() -> None:
    a = profile("", "The man said that it was on the way to the city.", "en")
    b = profile("", "It was said that the woman was on her way to the sea.", "en")
    c = profile("", "The Rotterdam dockworkers said the FNV strike was on.", "en")
    assert cosine(a.text, b.text) < cosine(c.text, profile(*PORT, "en").text)


def test_names_are_capitalised_runs_not_sentence_starts() -> None:
    found = names("The strike began. Ursula von der Leyen spoke in Rotterdam. Later the "
                  "Banco de España said so.", "en")
    assert {"ursula von der leyen", "rotterdam", "banco de españa"} <= found
    assert "the" not in found and "later" not in found


def test_features_are_each_between_zero_and_one() -> None:
    values = features(profile(*PORT, "en"), profile(*PORT_REWRITE, "en"))
    assert len(values) == len(FEATURES)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values[FEATURES.index("numbers")] > 0  # "48" and "23" in both


def test_a_fit_made_on_other_features_is_refused(tmp_path: Path) -> None:
    params = json.loads(Path(Similarity.load.__defaults__[0]).read_text())  # type: ignore[index]
    params["features"] = ["text", "title"]
    path = tmp_path / "similarity.json"
    path.write_text(json.dumps(params))
    with pytest.raises(ValueError, match="refit"):
        Similarity.load(path)
