"""The seed articles ``make run`` publishes: ``seeds/articles.jsonl`` (short articles written
for this project) and the article the project started from.

That article is copyrighted wire copy shared for evaluation only, so the repository keeps only
its metadata (``seeds/seed-article.json``); its text is read here, at run time, from the shared
data folder, exactly as given: line 1 is the headline, the rest (standfirst and body) the text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


class SeedError(RuntimeError):
    pass


def seed_article(shared_dir: Path, seeds_dir: Path = SEEDS_DIR) -> dict[str, Any]:
    meta = json.loads((seeds_dir / "seed-article.json").read_text(encoding="utf-8"))
    meta.pop("_comment", None)
    path = shared_dir / meta.pop("text_from")
    if not path.is_file():
        raise SeedError(
            f"the seed article's text is read from {path}, which is missing: point "
            "NEWSFLOW_SHARED_DIR at the shared data folder (default ../shared)"
        )
    title, _, text = path.read_text(encoding="utf-8").partition("\n")
    return {**meta, "title": title.strip(), "text": text}


def seed_lines(shared_dir: Path, seeds_dir: Path = SEEDS_DIR) -> list[bytes]:
    """Every seed as a ``news.raw`` message value: the seed article first, then the rest."""
    own = [line for line in (seeds_dir / "articles.jsonl").read_bytes().splitlines() if line]
    first = json.dumps(seed_article(shared_dir, seeds_dir), ensure_ascii=False).encode()
    return [first, *own]
