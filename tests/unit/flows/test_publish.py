"""flows.publish: what files become which raw messages, and their Kafka keys."""

from __future__ import annotations

import gzip
import json

import pytest

from flows.publish import input_files, key_of, read_messages
from flows.seeds import seed_lines
from schemas.articles import article_id


def test_reads_jsonl_gzip_json_txt_and_html_from_a_folder(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"url": "https://e.com/1", "text": "x"}\n\nnot json\n')
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as fh:
        fh.write('{"url": "https://e.com/2", "text": "y"}\n')
    (tmp_path / "c.json").write_text('[{"url": "https://e.com/3", "text": "z"}]')
    sub = tmp_path / "docs"
    sub.mkdir()
    (sub / "d.txt").write_text("Headline\nFirst line.\nSecond line.\n")
    (sub / "e.html").write_text("<html><body><p>Hi</p></body></html>")
    (sub / "ignored.png").write_bytes(b"\x89PNG")

    values = list(read_messages(tmp_path, url_prefix="https://archive.example/"))
    assert values[:3] == [b'{"url": "https://e.com/1", "text": "x"}', b"not json",
                          b'{"url": "https://e.com/2", "text": "y"}']
    records = [json.loads(v) for v in values[3:]]
    assert records[0] == {"url": "https://e.com/3", "text": "z"}
    assert records[1] == {"url": "https://archive.example/docs/d.txt", "title": "Headline",
                          "text": "First line.\nSecond line.\n"}
    assert records[2]["html"].startswith("<html>")
    assert len(values) == 6


def test_key_is_the_article_id_or_none_for_messages_without_url():
    assert key_of(b'{"url": "https://www.e.com/1?utm_source=x"}') == article_id(
        "https://e.com/1").encode()
    assert key_of(b"garbage") is None
    assert key_of(b'{"title": "no url"}') is None


def test_seed_article_text_is_read_exactly_as_given(tmp_path):
    seed_dir = tmp_path / "data" / "seed"
    seed_dir.mkdir(parents=True)
    (seed_dir / "000_177fa346c5e8cfe9.txt").write_text(
        "Headline here\nStandfirst.\nsite.comGlued first line.\n", encoding="utf-8")
    first, *rest = seed_lines(tmp_path)
    seed = json.loads(first)
    assert seed["title"] == "Headline here"
    assert seed["text"] == "Standfirst.\nsite.comGlued first line.\n"
    assert seed["url"].startswith("https://") and "text_from" not in seed
    assert len(rest) == 5 and all(json.loads(line)["url"] for line in rest)


def test_a_broken_json_file_is_sent_as_it_is_to_be_dead_lettered(tmp_path):
    (tmp_path / "broken.json").write_bytes(b'{"url": "https://e.com/1", "text": ')
    assert list(read_messages(tmp_path)) == [b'{"url": "https://e.com/1", "text": ']


def test_input_files_are_the_known_kinds_found_recursively_in_a_stable_order(tmp_path):
    for name in ("b.jsonl", "a/z.TXT", "a/y.html", "a/x.htm", "c.ndjson.gz", "d.json",
                 "e.csv", "f.jsonl.bak", "a/notes"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in input_files(tmp_path)]
    assert found == ["a/x.htm", "a/y.html", "a/z.TXT", "b.jsonl", "c.ndjson.gz", "d.json"]
    # A file named on its own is read whatever its name.
    assert input_files(tmp_path / "e.csv") == [tmp_path / "e.csv"]


def test_a_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        input_files(tmp_path / "nothing")


def test_spaces_and_control_characters_in_file_names_are_percent_encoded_in_urls(tmp_path):
    folder = tmp_path / "two words"
    folder.mkdir()
    (folder / "a b\tc.txt").write_text("Title\nBody", encoding="utf-8")
    (folder / "café.html").write_text("<p>Hi</p>", encoding="utf-8")
    urls = [json.loads(v)["url"] for v in read_messages(tmp_path, "https://archive.example/")]
    # Only what would make the URL invalid is encoded; other characters stay as they are.
    assert urls == ["https://archive.example/two%20words/a%20b%09c.txt",
                    "https://archive.example/two%20words/caf\u00e9.html"]


def test_a_file_given_alone_gets_a_url_relative_to_its_folder(tmp_path):
    (tmp_path / "note one.txt").write_text("Title\n", encoding="utf-8")
    [value] = read_messages(tmp_path / "note one.txt")
    assert json.loads(value) == {"url": "file:///note%20one.txt", "title": "Title", "text": ""}


def test_jsonl_lines_lose_their_line_ends_and_a_json_object_is_one_message(tmp_path):
    (tmp_path / "a.ndjson").write_bytes(b'{"url": "u1"}\r\n   \r\n{"url": "u2"}')
    (tmp_path / "b.json").write_text('{"url": "https://e.com/\u00e9", "text": "x"}',
                                     encoding="utf-8")
    assert list(read_messages(tmp_path)) == [
        b'{"url": "u1"}', b'{"url": "u2"}',
        '{"url": "https://e.com/\u00e9", "text": "x"}'.encode()]


@pytest.mark.parametrize("value", [b'["https://e.com/1"]', b'{"url": "   "}', b'{"url": 7}',
                                   b'"https://e.com/1"', b"\xff\xfe"])
def test_messages_without_a_usable_url_have_no_key(value):
    assert key_of(value) is None
