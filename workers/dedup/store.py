"""Dedup state: the stored records and claims, the store interface, and a store in memory.

Records: one per article (text hash, signature, shingle set, decision). Claims: ``h:<hash>``
and one band key per band, each naming the first article that had it; created only if absent,
so replicas agree on who was first. ``MemoryStore`` serves offline runs and tests; the
Elasticsearch store is ``workers.dedup.es_store``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from workers.dedup.fingerprint import Signature

DuplicateKind = Literal["exact", "near"]


@dataclass(frozen=True)
class Decision:
    """Where an article went: a new cluster (its own id) or a duplicate of an earlier one."""

    cluster_id: str
    duplicate_of: str | None = None
    similarity: float | None = None
    duplicate_kind: DuplicateKind | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "is_duplicate": self.is_duplicate,
            "duplicate_of": self.duplicate_of,
            "similarity": self.similarity,
            "duplicate_kind": self.duplicate_kind,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            cluster_id=data["cluster_id"],
            duplicate_of=data.get("duplicate_of"),
            similarity=data.get("similarity"),
            duplicate_kind=data.get("duplicate_kind"),
        )


@dataclass(frozen=True, eq=False)
class ArticleState:
    """What is stored per article: enough to compare later articles with it and to replay."""

    article_id: str
    text_hash: str
    signature: Signature
    decision: Decision
    shingles: Signature | None = None  # None in records written by version 1.0

    @property
    def is_root(self) -> bool:
        return self.decision.cluster_id == self.article_id


@dataclass
class Snapshot:
    """Stored state read by one request: records by article id, claim owners by key."""

    articles: dict[str, ArticleState] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)


@dataclass
class WriteResult:
    """What another writer had created first: those writes of ours did not happen."""

    existing_articles: list[str] = field(default_factory=list)
    existing_claims: list[str] = field(default_factory=list)


class DedupStore(Protocol):
    """Shared dedup state. Each method is one round trip to wherever the state lives."""

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        """Records of these articles and owners of these claims; absent ones are left out."""
        ...

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        """Create each record and claim unless it exists; all records before any claim, so
        whoever sees a claim can read the record it points to."""
        ...

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        """Replace records (decisions changed after a lost race)."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """State in this process only (offline runs, tests). Thread-safe, for racing tests."""

    def __init__(self) -> None:
        self.articles: dict[str, ArticleState] = {}
        self.claims: dict[str, str] = {}
        self._lock = threading.Lock()

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        with self._lock:
            return Snapshot(
                {a: self.articles[a] for a in article_ids if a in self.articles},
                {k: self.claims[k] for k in claim_keys if k in self.claims},
            )

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        result = WriteResult()
        with self._lock:
            for state in articles:
                if state.article_id in self.articles:
                    result.existing_articles.append(state.article_id)
                else:
                    self.articles[state.article_id] = state
            for key, owner in claims.items():
                if key in self.claims:
                    result.existing_claims.append(key)
                else:
                    self.claims[key] = owner
        return result

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        with self._lock:
            self.articles.update((s.article_id, s) for s in articles)

    def close(self) -> None:
        pass

