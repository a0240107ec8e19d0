import gzip
import json

from flows.publish import key_of, read_messages
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
