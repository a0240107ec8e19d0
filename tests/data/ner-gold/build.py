"""Build gold.jsonl from articles.txt, its annotated source: run this file with python.

Each output line: ``{"id", "topic", "title", "body", "language": "en", "entities": [{"start",
"end", "type", "name"}]}`` with ``body[start:end]`` the marked surface and ``type`` one of
person, organization, location, misc (the stage's types).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "misc"}
MARK = re.compile(r"\[([^\[\]|]+)\|(PER|ORG|LOC|MISC)(?:\|([^\[\]|]+))?\]")


def parse(block: str) -> dict[str, object]:
    header, _, text = block.partition("\n")
    id_, topic, title = (part.strip() for part in header.split("|", 2))
    body, entities, pos = [], [], 0
    for m in MARK.finditer(text := text.strip()):
        body.append(text[pos : m.start()])
        start = sum(map(len, body))
        surface, label, canonical = m.groups()
        body.append(surface)
        entities.append(
            {
                "start": start,
                "end": start + len(surface),
                "type": TYPES[label],
                "name": canonical or surface,
            }
        )
        pos = m.end()
    body.append(text[pos:])
    text = "".join(body)
    assert "[" not in text and "|" not in text, f"{id_}: unparsed markup"
    return {
        "id": id_,
        "topic": topic,
        "title": title,
        "body": text,
        "language": "en",
        "entities": entities,
    }


def main() -> None:
    source = "\n".join(
        line
        for line in (HERE / "articles.txt").read_text(encoding="utf-8").splitlines()
        if not line.startswith("# ")
    )
    blocks = [b for b in source.split("### ") if b.strip()]
    with (HERE / "gold.jsonl").open("w", encoding="utf-8") as out:
        for block in blocks:
            out.write(json.dumps(parse(block), ensure_ascii=False) + "\n")
    print(f"{len(blocks)} articles -> {HERE / 'gold.jsonl'}")


if __name__ == "__main__":
    main()
