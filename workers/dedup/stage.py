"""The dedup stage: CleanArticle (news.clean) in, DedupedArticle (news.deduped, clustered) out.

Every article with words is emitted, duplicates too: flagged (``exact``: same text hash;
``near``: word-shingle Jaccard at least ``settings.dedup_threshold``), not dropped. A replayed
article gets its stored decision back. Skip: ``no-words``. A failing state store raises and
fails the batch. Decisions, state and races between replicas: docs/stages/dedup.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from schemas.articles import CleanArticle, DedupedArticle
from workers.dedup.es_store import ElasticsearchStore, state_partitions
from workers.dedup.fingerprint import (
    Fingerprint,
    Fingerprinter,
    article_text,
    choose_rows,
    exact_jaccard,
    jaccard,
)
from workers.dedup.store import (
    ArticleState,
    Decision,
    DedupStore,
    MemoryStore,
    Snapshot,
    WriteResult,
)
from workers.io import elastic
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, Skip, StageContext
from workers.topology import STAGES

NAME = "dedup"
VERSION = STAGES[NAME].version

_WORD = re.compile(r"\w+")  # a body without one has nothing to compare


class DedupStage:
    """Clusters a batch against the stored state and against itself, whatever the store."""

    name = NAME
    version = VERSION

    def __init__(self, store: DedupStore, threshold: float) -> None:
        self.store = store
        self.threshold = threshold
        self.fingerprinter = Fingerprinter(rows=choose_rows(threshold))

    def process(self, batch: Sequence[CleanArticle]) -> list[Outcome]:
        prints: list[Fingerprint | None] = [
            self.fingerprinter.fingerprint(article.id, article_text(article.title, article.body))
            if _WORD.search(article.body)
            else None
            for article in batch
        ]
        decisions = self.assign([p for p in prints if p is not None])
        outcomes: list[Outcome] = []
        for article, fp in zip(batch, prints, strict=True):
            if fp is None:
                outcomes.append(Skip("no-words", "the body has no word characters"))
                continue
            decision = decisions[fp.article_id]
            data = article.model_dump()
            data.update(
                cluster_id=decision.cluster_id,
                is_duplicate=decision.is_duplicate,
                duplicate_of=decision.duplicate_of,
                similarity=decision.similarity,
                duplicate_kind=decision.duplicate_kind,
                text_hash=fp.text_hash,
                versions={**article.versions, NAME: VERSION},
            )
            outcomes.append(Emit(DedupedArticle.model_validate(data)))
        return outcomes

    def close(self) -> None:
        self.store.close()

    def assign(self, prints: Sequence[Fingerprint]) -> dict[str, Decision]:
        """Decide every fingerprint, in order, each seeing those before it; by article id."""
        if not prints:
            return {}
        # 1st and 2nd round trip: what is known of these articles and of their claims' owners.
        view = self.store.fetch(
            {fp.article_id for fp in prints}, {k for fp in prints for k in fp.keys}
        )
        self._load_owners(view)
        written: dict[str, ArticleState] = {}
        claimed: dict[str, str] = {}
        for fp in prints:
            if fp.article_id in view.articles:  # a replay, or twice in this batch
                continue
            decision = self._decide(fp, view)
            state = ArticleState(fp.article_id, fp.text_hash, fp.signature, decision, fp.shingles)
            view.articles[fp.article_id] = written[fp.article_id] = state
            for key in fp.keys:
                if key not in view.claims:  # later articles of this batch see it at once
                    view.claims[key] = claimed[key] = fp.article_id
        if written or claimed:
            # 3rd round trip; conflicts mean another replica got there in between.
            result = self.store.write(list(written.values()), claimed)
            if result.existing_articles or result.existing_claims:
                self._settle(prints, view, written, claimed, result)
        return {fp.article_id: view.articles[fp.article_id].decision for fp in prints}

    def _load_owners(self, view: Snapshot) -> None:
        missing = set(view.claims.values()) - set(view.articles)
        if missing:
            view.articles.update(self.store.fetch(missing, ()).articles)

    def _decide(self, fp: Fingerprint, view: Snapshot) -> Decision:
        # Candidates: owners of this text's claims, the hash owner first (it wins a tie).
        candidates: list[ArticleState] = []
        seen = {fp.article_id}
        for key in fp.keys:
            owner = view.claims.get(key)
            if owner is not None and owner not in seen:
                seen.add(owner)
                if (state := view.articles.get(owner)) is not None:  # gone: nothing to compare
                    candidates.append(state)
        return self._best(fp, candidates) or Decision(cluster_id=fp.article_id)

    def _best(self, fp: Fingerprint, candidates: Iterable[ArticleState]) -> Decision | None:
        best: ArticleState | None = None
        best_similarity = 0.0
        for state in candidates:
            if state.text_hash == fp.text_hash:
                similarity = 1.0
            elif state.shingles is not None:
                similarity = exact_jaccard(fp.shingles, state.shingles)
            else:  # a version 1.0 record: only its signature to go by
                similarity = jaccard(fp.signature, state.signature)
            if similarity >= self.threshold and similarity > best_similarity:
                best, best_similarity = state, similarity
        if best is None:
            return None
        return Decision(
            cluster_id=best.decision.cluster_id,
            duplicate_of=best.article_id,
            similarity=best_similarity,
            duplicate_kind="exact" if best.text_hash == fp.text_hash else "near",
        )

    def _settle(
        self,
        prints: Sequence[Fingerprint],
        view: Snapshot,
        written: dict[str, ArticleState],
        claimed: dict[str, str],
        result: WriteResult,
    ) -> None:
        """Make this batch agree with writes another replica made between our read and write.

        A record already there is taken as the decision (the article was handled elsewhere).
        A lost claim names a rival: a new-story article of ours re-decides against its rivals.
        When two new stories each won some of the other's claims, both re-decide; the one with
        the larger id joins the other, so they end up in one cluster, not in each other's.
        Three or more copies of a new story decided at the same moment by different replicas
        can still end up in two clusters: rare, and never wrong about what is a copy.
        """
        # 4th and 5th round trip: the winners' claims and records.
        theirs = self.store.fetch(result.existing_articles, result.existing_claims)
        view.claims.update(theirs.claims)
        lost = set(result.existing_claims)
        missing = set(theirs.claims.values()) - set(theirs.articles) - set(view.articles)
        if missing:
            theirs.articles.update(self.store.fetch(missing, ()).articles)
        moved: dict[str, str] = {}  # old cluster id -> new one, for this batch's followers
        for article_id in result.existing_articles:
            if (stored := theirs.articles.get(article_id)) is not None:
                ours = written.pop(article_id)
                if ours.is_root and stored.decision.cluster_id != article_id:
                    moved[article_id] = stored.decision.cluster_id
        view.articles.update(theirs.articles)

        changed: dict[str, ArticleState] = {}
        done: set[str] = set()
        for fp in prints:
            state = written.get(fp.article_id)
            if state is None or not state.is_root or fp.article_id in done:
                continue
            done.add(fp.article_id)
            mine = {k for k in fp.keys if claimed.get(k) == fp.article_id}
            rivals = {view.claims[k] for k in mine & lost} - {fp.article_id}
            if not rivals:
                continue
            won = mine - lost
            eligible = [
                rival
                for rival in (view.articles.get(r) for r in sorted(rivals))
                if rival is not None and self._may_join(fp, won, rival)
            ]
            decision = self._best(fp, eligible)
            if decision is not None:
                changed[fp.article_id] = replace(state, decision=decision)
                moved[fp.article_id] = decision.cluster_id

        for article_id, state in written.items():
            current = changed.get(article_id, state)
            target = _follow(moved, current.decision.cluster_id)
            if target != current.decision.cluster_id:
                changed[article_id] = replace(
                    current, decision=replace(current.decision, cluster_id=target)
                )
        if changed:
            view.articles.update(changed)
            self.store.overwrite(list(changed.values()))  # 6th round trip

    def _may_join(self, fp: Fingerprint, won: set[str], rival: ArticleState) -> bool:
        if rival.decision.cluster_id == fp.article_id:  # it already follows us
            return False
        if not rival.is_root:  # a settled duplicate: it will not move, join its cluster
            return True
        # A rival new story that lost claims to us re-decides too: the smaller id stays.
        mutual = bool(won.intersection(self.fingerprinter.keys(rival.text_hash, rival.signature)))
        return not mutual or rival.article_id < fp.article_id


def _follow(moved: Mapping[str, str], cluster_id: str) -> str:
    seen = {cluster_id}
    while (cluster_id := moved.get(cluster_id, cluster_id)) not in seen:
        seen.add(cluster_id)
    return cluster_id


def build(settings: WorkerSettings, context: StageContext) -> DedupStage:
    """Offline: state in memory. Otherwise in the partitions of ``settings.dedup_index``
    within ``settings.dedup_window_days``, shared by replicas."""
    store: DedupStore
    if context.offline:
        store = MemoryStore()
    elif context.es is None:
        raise ValueError("the dedup stage needs an Elasticsearch client unless offline")
    else:
        store = ElasticsearchStore(context.es, state_partitions(settings),
                                   replicas=elastic.replicas(context.es, settings))
    return DedupStage(store, threshold=settings.dedup_threshold)

