"""Story clusters in the index: how many articles each cluster has (where a story ran).

The dedup stage gives every article a ``cluster_id`` (the id of the first article of its story)
and indexes duplicates too, so a cluster's size is a count over the index, not a stored field
that every new copy would have to update. Search collapses results on ``cluster_id``
(Elasticsearch field collapsing) and asks this module for the sizes of the clusters it shows.
"""

from __future__ import annotations

from collections.abc import Collection

from elasticsearch import Elasticsearch


def cluster_sizes(es: Elasticsearch, alias: str, cluster_ids: Collection[str]) -> dict[str, int]:
    """Number of indexed articles in each of these clusters (0 for a cluster not indexed)."""
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return {}
    response = es.search(
        index=alias,
        size=0,
        query={"terms": {"cluster_id": wanted}},
        aggs={"clusters": {"terms": {"field": "cluster_id", "size": len(wanted)}}},
    )
    sizes = dict.fromkeys(wanted, 0)
    for bucket in response["aggregations"]["clusters"]["buckets"]:
        sizes[bucket["key"]] = int(bucket["doc_count"])
    return sizes
