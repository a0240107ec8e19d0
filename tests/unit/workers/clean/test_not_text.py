"""The clean stage's not-text check: binary data and noise sent as text are skipped with a
reason; text in any script, tables of figures and the odd stray character are kept."""

from __future__ import annotations

import base64
import random
import string

import pytest

from schemas.articles import RawArticle
from workers.clean.not_text import char_class, why_not_text
from workers.clean.stage import CleanStage
from workers.stage import Emit, Skip

RND = random.Random(7)
DATA = RND.randbytes(5000)

NOISE = {
    "bytes as latin-1": DATA.decode("latin-1"),
    "bytes as utf-8, replaced": DATA.decode("utf-8", "replace"),
    "bytes as cp1252, replaced": DATA.decode("cp1252", "replace"),
    "control characters": "".join(chr(RND.randrange(32)) for _ in range(2000)),
    "printable ASCII": "".join(RND.choice(string.printable) for _ in range(5000)),
    "base64": base64.b64encode(DATA).decode(),
    "hex dump": DATA.hex(" ", 2),
    "random code points": "".join(chr(RND.randrange(0x20, 0x3000)) for _ in range(3000)),
}

STORY = (
    "The regional parliament approved the new water law on Thursday after a debate of almost "
    "nine hours. The law caps what farms may draw from the river in dry summers.\n\n"
)
TEXTS = {
    "English": STORY * 20,
    "German": "Die Häfen an der Nordsee meldeten am Dienstag höhere Umschläge. " * 40,
    "Russian": "Правительство объявило в среду о новых мерах поддержки фермеров. " * 40,  # noqa: RUF001
    "Chinese": "政府星期三宣布了支持农民的新措施，包括贷款和补贴。" * 60,  # noqa: RUF001
    "Arabic": "أعلنت الحكومة يوم الأربعاء عن إجراءات جديدة لدعم المزارعين. " * 40,
    "a table of figures": "Shr 45 cts vs 58 cts\n    Net 1.1 mln vs 829,000\n"
                          "    Rates 6-3/8 6-1/2 3.60/70 (3.85/95)\n" * 30,
    "cp1252 quotes and a stray U+FFFD": ("He said \x93no\x94 to the plan, \ufffd and left. "
                                         + STORY) * 10,
    "names in CamelCase": ("Shares of PayPal, McMoRan and YouTube's owner rose on Monday as "
                           "iPhone sales in the US beat what analysts at JPMorgan expected. ")
                          * 30,
}


@pytest.mark.parametrize("kind", sorted(NOISE))
def test_noise_is_not_text(kind: str) -> None:
    assert why_not_text(NOISE[kind]) is not None


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_text_is_text(kind: str) -> None:
    assert why_not_text(TEXTS[kind]) is None


def test_short_text_is_not_judged_by_its_letters() -> None:
    # Too few neighbouring pairs to say anything: "too-short" is the clean stage's call.
    assert why_not_text("New York") is None
    assert why_not_text("") is None


def test_classes() -> None:
    assert [char_class(c) for c in "aZé中7,\x00\ufffd\ue000 \t\x0b"] == \
        ["L", "U", "L", "A", "N", "N", "X", "X", "X", " ", " ", "X"]


def test_the_clean_stage_skips_noise_as_not_text_and_keeps_the_story() -> None:
    stage = CleanStage(min_words=20, time_limit=None)
    noise, story = stage.process([
        RawArticle(url="https://e.com/noise", text=NOISE["bytes as latin-1"]),
        RawArticle(url="https://e.com/story", text=STORY * 3),
    ])
    assert isinstance(noise, Skip) and noise.reason == "not-text"
    assert noise.detail and "control or undecodable characters" in noise.detail
    assert isinstance(story, Emit)


def test_html_whose_main_text_is_noise_is_not_text() -> None:
    stage = CleanStage(min_words=20, time_limit=None)
    page = f"<html><body><article><p>{NOISE['base64']}</p></article></body></html>"
    [outcome] = stage.process([RawArticle(url="https://e.com/p", html=page)])
    assert isinstance(outcome, Skip) and outcome.reason == "not-text"
