"""Draw the facets of one search as a PNG: the timeline and the top values of each facet.

    python scripts/plot_facets.py "*" -o docs/search-facets.png
    NEWSFLOW_ES_ALIAS=news-demo8 python scripts/plot_facets.py "oil prices" --from 1987-03-01

It runs the same search as ``newsflow search`` (``newsflow.search.search``) against the
configured Elasticsearch and alias, and draws what that search returns.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from newsflow.config import load_settings
from newsflow.search import Filters, search
from workers.io import elastic

PANELS = ("persons", "organizations", "locations", "countries", "source")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("query", nargs="?", default="*")
    parser.add_argument("--from", dest="since", type=date.fromisoformat)
    parser.add_argument("--to", dest="until", type=date.fromisoformat)
    parser.add_argument("--top", type=int, default=10, help="values per facet")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/search-facets.png"))
    args = parser.parse_args()
    settings = load_settings()
    result = search(elastic.client(settings), settings.es_alias, args.query,
                    filters=Filters(since=args.since, until=args.until), size=1,
                    facet_size=args.top)

    fig = plt.figure(figsize=(15, 10), layout="constrained")
    grid = fig.add_gridspec(3, 3)
    timeline = fig.add_subplot(grid[0, :])
    keys = [k[:10] for k, _ in result.timeline]
    timeline.bar(range(len(keys)), [c for _, c in result.timeline], color="#3b6ea5")
    step = max(1, len(keys) // 12)
    timeline.set_xticks(range(0, len(keys), step), keys[::step], fontsize=8)
    timeline.set_title(f"articles per {result.timeline_interval} (published_at)")
    for n, name in enumerate(PANELS):
        ax = fig.add_subplot(grid[1 + n // 3, n % 3])
        buckets = result.facets.get(name, [])[::-1]  # biggest on top
        ax.barh([v for v, _ in buckets], [c for _, c in buckets], color="#d08c3a")
        ax.set_title(f"top {name}")
        ax.tick_params(axis="y", labelsize=8)
    stories = f", {result.stories} stories" if result.stories is not None else ""
    fig.suptitle(f"{settings.es_alias}: {result.total} articles{stories} for {args.query!r}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=90)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
