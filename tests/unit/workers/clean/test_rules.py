"""clean stage, line rules: boilerplate lines dropped, credits kept, sentences left alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workers.clean.rules import LinePatterns, apply_line_rules, line_rules, split_glued_credit

STORY = "The minister said the talks would resume on Tuesday after a short break in Geneva."


@pytest.mark.parametrize(
    "junk",
    [
        "Read more: Council delays the budget vote again",
        "READ MORE",
        "Related: Ten bridges that changed their cities",
        "See also: How the vote went",
        "Share this article",
        "Facebook Twitter Email",
        "Sign up for our daily newsletter",
        "Get the latest headlines in your inbox every morning.",
        "Subscribe now",
        "If you enjoyed this article, please consider supporting us.",
        "We use cookies to give you the best experience on our website.",
        "Accept all cookies",
        "Follow us on Twitter and Facebook",
        "Follow Jane Doe on Instagram",
        "Advertisement",
        "Story continues below advertisement",
        "Filed under: Politics",
        "Updated at 1:23 p.m. ET",
        "Last updated: 18 Nov 2019, 10:05 GMT",
        "© 2025 The Daily Example. All rights reserved.",
        "Mayor pledges new trams for the east [VIDEO]",
        "Transport is a right, not a luxury.Click To Tweet",
    ],
)
def test_boilerplate_lines_are_removed(junk: str) -> None:
    cleaned = apply_line_rules(f"{STORY}\n\n{junk}\n\n{STORY}")
    assert cleaned.text == f"{STORY}\n\n{STORY}"
    assert cleaned.dropped == 1 and cleaned.credits == []


@pytest.mark.parametrize(
    "credit",
    [
        "Photo: Reuters",
        "Photograph: Jane Doe/AP",
        "(AP Photo/John Smith)",
        "Image by Getty Images",
        "AFP",
    ],
)
def test_photo_credits_are_removed_and_kept_as_credits(credit: str) -> None:
    cleaned = apply_line_rules(f"{credit}\n{STORY}")
    assert cleaned.text == STORY
    assert cleaned.credits == [credit]


@pytest.mark.parametrize(
    "sentence",
    [
        # Sentences that start like boilerplate but are the story: kept.
        "More than 40 people were hurt when the roof of the station collapsed on Monday.",
        "Published in 2019, the report found that half of the workers were underpaid.",
        "Follow-up talks are planned for March, the ministry said.",
        "Readers wrote in their hundreds to complain about the new timetable.",
        "Copyright law was changed in 2019 to cover online news.",
        "Sharing economy platforms now employ a tenth of the city's drivers.",
        "The offer was posted on example.com yesterday and sold out within an hour.",
        "example.com said it would appeal the ruling.",
        # A long paragraph is never tested against the rules, whatever its first words.
        "Read more widely, the minister said, and you will see that the plan was never about "
        "cost alone but about who gets to decide where the new lines run and which districts "
        "wait another decade for a station of their own.",
    ],
)
def test_sentences_that_look_like_boilerplate_stay(sentence: str) -> None:
    cleaned = apply_line_rules(sentence)
    assert cleaned.text == sentence
    assert (cleaned.dropped, cleaned.credits) == (0, [])


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        (r".*\bcookies\b.*", "We use cookies here"),
        (r".*\bcookies\b.*", "cookies"),
        (r".*\bcookies\b.*", "Cookieshop"),
        (r".*\bclick to tweet", "A right.Click To Tweet"),
        (r".*\bclick to tweet", "click to tweet, then more"),
        (r".*a|b.*", "xa"),  # top-level "|": not ".*X", matched as written
        (r".*a|b.*", "bx"),
        (r".*a|b.*", "xay"),
        (r".*[|]x", "a|x"),
        (r"read more", "Read more"),
        (r"read more", "Read more of it"),
    ],
)
def test_line_patterns_match_like_whole_line_matches(pattern: str, line: str) -> None:
    """The ``.*X`` shortcut changes how a line is matched, never whether it is."""
    whole = re.compile(pattern, re.IGNORECASE).fullmatch(line) is not None
    assert LinePatterns.compile([pattern]).fullmatch(line) == whole


def test_every_shipped_pattern_matches_like_a_whole_line_match() -> None:
    rules = line_rules()
    samples = [f"{a} {b}".strip() for a in ("", "Some words and", "We use") for b in (
        "cookies", "cookie policy", "click to tweet", "Read more", "Photo: Reuters",
        "Share this article", "Follow us on Twitter", "Advertisement", "© 2025 Example")]
    data = json.loads((Path(__file__).parents[4] / "workers/data/boilerplate.json").read_text())
    for name, patterns in [*data["drop"].items(), ("credit", data["credit"])]:
        compiled = rules.credit if name == "credit" else rules.drop[name]
        whole = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        for line in samples:
            assert compiled.fullmatch(line) == (whole.fullmatch(line) is not None), (name, line)


def test_a_line_over_the_word_limit_is_never_tested() -> None:
    limit = line_rules().max_words
    at_limit = " ".join(["We", "use", "cookies", *["here"] * (limit - 3)])
    assert apply_line_rules(f"{STORY}\n\n{at_limit}").dropped == 1
    assert apply_line_rules(f"{STORY}\n\n{at_limit}, here").dropped == 0


@pytest.mark.parametrize(
    ("line", "credit", "rest"),
    [
        (
            "cumhuriyet.com.trAl-Araji's remarks came late Sunday",
            "cumhuriyet.com.tr",
            "Al-Araji's remarks came late Sunday",
        ),
        ("bbc.co.ukThe minister resigned.", "bbc.co.uk", "The minister resigned."),
        ("news-site.orgOfficials said", "news-site.org", "Officials said"),
        # Not glued credits: left as they are.
        ("posted on example.com yesterday", None, "posted on example.com yesterday"),
        ("example.com said on Monday", None, "example.com said on Monday"),
        ("Amazon.com reported record sales", None, "Amazon.com reported record sales"),
        ("The site example.comHosts it", None, "The site example.comHosts it"),
    ],
)
def test_glued_credit_split(line: str, credit: str | None, rest: str) -> None:
    assert split_glued_credit(line) == (credit, rest)
