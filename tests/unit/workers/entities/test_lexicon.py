"""The data files' patterns: built on first use (by ``build``), not when the package is imported."""

from __future__ import annotations

import subprocess
import sys

from workers.entities.lexicon import lexicon


def test_importing_the_stage_reads_no_data_file() -> None:
    code = ("import workers.entities, workers.entities.lexicon as lex; "
            "print(lex.lexicon.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_the_patterns_read_the_data_files() -> None:
    lex = lexicon()
    assert lex is lexicon()  # once per process
    prefix = lex.person_prefix.match("Prime Minister Frenchman Cyril Saulnier")
    assert prefix is not None and prefix[0] == "Prime Minister Frenchman "
    assert lex.head_types["Railways"] == "organization" and lex.head_types["Glacier"] == "location"
    assert lex.demonyms["Israeli"] == "IL"
    m = lex.name_after_title.fullmatch("National Security Adviser Qasim al-Araji")
    assert m is not None and m["name"] == "Qasim al-Araji"
