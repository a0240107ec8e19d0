"""clean stage, normalisation: encodings, Unicode and whitespace, the title line, ftfy's
fast path."""

from __future__ import annotations

import ftfy
import pytest

from workers.clean.text import drop_title_line, fix_text, normalise_text


def test_text_is_used_as_given_with_its_lines() -> None:
    text = "First line of the story.\nSecond line, same paragraph or not: not ours to guess."
    assert normalise_text(text) == text


def test_normalisation_fixes_encoding_unicode_and_whitespace() -> None:
    messy = (
        "  The caf\u00c3\u00a9 re-opened\t\ton  Monday \u00a0 morning.  \r\n"
        "\n\n\n\n"
        "   Cre\u0300me br\u00fbl\u00e9e is back \u2014 \u201cfinally\u201d, the owner said.   \n"
        "\n"
    )
    assert normalise_text(messy) == (
        "The caf\u00e9 re-opened on Monday morning.\n"
        "\n"
        'Cr\u00e8me br\u00fbl\u00e9e is back \u2014 "finally", the owner said.'
    )


def test_title_line_repeated_at_the_top_is_dropped() -> None:
    assert drop_title_line("Big News\nThe story.", "big news") == "The story."
    assert drop_title_line("Big News\n\nThe story.", "Big News") == "The story."
    assert drop_title_line("Big News is here\nThe story.", "Big News") == (
        "Big News is here\nThe story."
    )
    # A body that is only its title keeps it: better than an empty article.
    assert drop_title_line("Big News", "Big News") == "Big News"

@pytest.mark.parametrize("text", [
    "Plain wire copy, nothing to fix.\nSecond line.",
    "Fish &amp; chips",
    "Windows\r\nline breaks",
    "a \x1b[31mred\x1b[0m word",
    "BEL\x07 and NUL\x00 control characters",
    "cafÃ© mojibake",
])
def test_fast_path_gives_what_ftfy_gives(text: str) -> None:
    assert fix_text(text) == ftfy.fix_text(text)
