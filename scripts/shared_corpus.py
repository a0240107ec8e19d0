"""Turn a shared evaluation corpus into ``news.raw`` messages (JSON Lines on stdout or a file).

    python scripts/shared_corpus.py reuters --limit 2000 -o benchmarks/out/reuters.jsonl
    python scripts/shared_corpus.py bbc -o benchmarks/out/bbc.jsonl
    newsflow publish benchmarks/out/reuters.jsonl --no-prefect --wait

The corpora stay in ../shared/data (read at run time, never copied into the repository).
Their records have no URL and name the text ``body``; this maps them onto the message
contract (docs/architecture.md, "The message contract") with a made-up but stable URL per record.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def reuters(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if not (r.get("body") or "").strip():
                continue  # many Reuters records are a headline only
            # "26-FEB-1987 15:01:01.79": Reuters' own format, in GMT.
            when = datetime.strptime(r["date"].split(".")[0], "%d-%b-%Y %H:%M:%S")
            yield {"url": f"https://reuters.example/1987/{r['newid']}",
                   "title": (r.get("title") or "").title() or None, "text": r["body"],
                   "source": "Reuters", "language": "en",
                   "published_at": when.replace(tzinfo=UTC).isoformat()}


def bbc(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            yield {"url": f"https://bbc.example/{r['id']}", "title": r.get("title"),
                   "text": r["body"], "source": "BBC News", "language": "en",
                   "category": r.get("category")}  # unknown field: kept under metadata


CORPORA = {"reuters": (reuters, SHARED / "reuters21578" / "reuters21578.jsonl.gz"),
           "bbc": (bbc, SHARED / "bbc-news" / "bbc-news.jsonl")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=sorted(CORPORA))
    parser.add_argument("--path", type=Path, help="the corpus file (default: ../shared/data/…)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    parser.add_argument("-o", "--output", type=Path, help="output JSONL (default: stdout)")
    args = parser.parse_args()
    read, default = CORPORA[args.corpus]
    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    n = 0
    for n, record in enumerate(read(args.path or default), start=1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if n == args.limit:
            break
    if args.output:
        out.close()
    print(f"{n} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
