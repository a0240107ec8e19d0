"""Dedup stage: CleanArticle -> DedupedArticle, each article placed in a story cluster.

Input ``news.clean`` (CleanArticle), output ``news.deduped`` (DedupedArticle). Every article
with words in its body is emitted, duplicates too: they are flagged, not dropped, so that the
index can show one story with its copies.

Decisions, in this order:

* **replay** - the article id was seen before: its stored decision is returned unchanged, so
  re-consuming a topic (or two replicas handling one message) gives the same answer.
* **exact** - another article had the same ``text_hash``: ``is_duplicate``, ``duplicate_kind
  "exact"``, ``duplicate_of`` the first article with that hash, ``similarity`` 1.0, its cluster.
* **near** - an earlier article shares an LSH band key and the Jaccard similarity of their
  word 5-shingle sets is at least ``settings.dedup_threshold``: the most similar one is
  ``duplicate_of``, kind ``"near"``, its cluster.
* **new story** - otherwise: ``cluster_id`` is the article's own id.

Skip reasons: ``no-words`` (the body has no word characters, so nothing to compare; the clean
stage should not let these through). Dead-letter conditions: none of the stage's own; a failing
state store (Elasticsearch unreachable, writes rejected) raises, failing the batch, and every
write is create-if-absent so that a retried batch replays to the same decisions.

Fingerprint. The text is the headline and the body: short wire items (dividend notices, price
reports) often share a body word for word and differ only in the headline naming the company
or the market, so the body alone would merge different stories. A re-headlined copy of a body
of any length is still a near-duplicate (the headline is a few shingles of hundreds).
``text_hash`` is sha256 of the text's lower-cased ``\\w+`` tokens joined by single spaces (so
whitespace, punctuation and case do not make a copy look new). The MinHash (datasketch, scheme
``affine32``, crc32 as the shingle hash, 128 permutations, seed 1) is over word 5-shingles of
the same tokens. Texts under 10 tokens use bigrams (one word: unigrams), having few or no
5-shingles; a 9-token text and a 10-token copy of it are then not comparable, which only
matters when ``min_words`` is below 10. Stored signatures are only comparable to signatures
made the same way: changing any of this means a new VERSION and a new state index.

LSH banding. ``rows`` per band is the largest that still makes a pair *at* the threshold a
candidate with probability >= 0.98 (fewer rows give more false candidates to verify and more
claims to store); bands = 128 // rows. At the default 0.8 that is 18 bands x 7 rows, with
P(candidate) = 1 - (1 - s^7)^18:

    s = 0.3   0.5   0.6   0.7   0.75  0.8   0.85  0.9
    P = .004  .132  .418  .787  .927  .986  .999  1.00

Candidates are then verified on their *exact* Jaccard similarity, from the stored set of
shingle hashes (crc32 of each distinct shingle, sorted uint32, ~4 bytes a word), not on the
MinHash estimate: with 128 values the estimate's standard deviation is 0.035 at 0.8, which
put pairs of true similarity 0.80-0.83 on the wrong side of the threshold about as often as
pairs of 0.75-0.8 (benchmarks/eval_dedup.py). A false candidate costs one record read, never
a wrong cluster. Records stored by version 1.0 have no shingle set: they are compared on the
signature estimate.

State, behind a small store interface (``MemoryStore`` offline, ``ElasticsearchStore``
otherwise): one *article* record per article (text hash, signature, decision) and *claims*:
``h:<text_hash>`` and one ``b<rows>.<band>.<band hash>`` per band, each pointing to the first
article that had it. Claims are created only if absent, so replicas on different machines
agree on who was first; an article's candidates are the owners of its claims. Per batch the
store is asked three times (read records and claims; read the claim owners' records; write
records then claims), plus three more only when another replica won a claim in between.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import numpy as np
from datasketch import MinHash
from numpy.typing import NDArray

from schemas.articles import CleanArticle, DedupedArticle
from workers.settings import WorkerSettings
from workers.stage import Emit, Outcome, Skip, StageContext, TransientError
from workers.topology import STAGES

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

NAME = "dedup"
VERSION = STAGES[NAME].version

NUM_PERM = 128
SEED = 1
SCHEME: Final = "affine32"  # datasketch >= 2.0; values are uint32, so they fit an ES ``long``
SHINGLE = 5
SHORT_TEXT = 10  # bodies with fewer tokens than this are shingled as bigrams
MIN_RECALL = 0.98  # chance that a pair exactly at the threshold becomes a candidate

_WORD = re.compile(r"\w+")

Signature = NDArray[np.uint32]
DuplicateKind = Literal["exact", "near"]


# --- fingerprints ----------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens: what both the hash and the shingles are made of."""
    return _WORD.findall(text.lower())


def article_text(title: str | None, body: str) -> str:
    """What is compared: the headline, then the body (see the module docstring)."""
    return f"{title}\n{body}" if title else body


def text_hash(words: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def shingles(words: Sequence[str]) -> set[bytes]:
    """The distinct word shingles, each its words joined by single spaces, in UTF-8."""
    size = _shingle_size(words)
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def shingle_hashes(words: Sequence[str]) -> list[int]:
    """crc32 of every shingle of ``shingles(words)``, repeats included (a sketch's minimum and
    a sorted set of distinct hashes come out the same either way, without a set of shingles)."""
    size = _shingle_size(words)
    text = " ".join(words)
    data = text.encode("utf-8")
    # Each shingle is a slice of the joined text, hashed in place (memoryview: no copy).
    # starts[i] is where word i begins in ``data``; in ASCII (most wire copy) a word's length
    # in bytes is its length, otherwise each word is encoded to measure it.
    lengths = map(len, words) if len(data) == len(text) else (len(w.encode()) for w in words)
    ends = np.cumsum(np.fromiter(lengths, dtype=np.int64, count=len(words)) + 1)
    starts = [0, *ends.tolist()]
    view = memoryview(data)
    return [zlib.crc32(view[a : b - 1]) for a, b in zip(starts, starts[size:], strict=False)]


def _sorted_distinct(values: Signature) -> Signature:
    """``np.unique`` of a few hundred values, in half its time (it hashes before it sorts)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def _fmix32(values: Signature) -> Signature:
    """MurmurHash3's 32-bit finalizer: datasketch's ``affine32`` pre-mix of each input hash."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint32(16))
        values = values * np.uint32(0x85EBCA6B)
        values = values ^ (values >> np.uint32(13))
        values = values * np.uint32(0xC2B2AE35)
        return values ^ (values >> np.uint32(16))


def _shingle_size(words: Sequence[str]) -> int:
    return SHINGLE if len(words) >= SHORT_TEXT else min(2, len(words))


def candidate_probability(similarity: float, rows: int, num_perm: int = NUM_PERM) -> float:
    """Chance that two texts of this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - similarity**rows) ** (num_perm // rows)


def choose_rows(threshold: float, num_perm: int = NUM_PERM, min_recall: float = MIN_RECALL) -> int:
    """Most rows per band such that a pair at ``threshold`` is a candidate often enough."""
    for rows in range(num_perm, 1, -1):
        if candidate_probability(threshold, rows, num_perm) >= min_recall:
            return rows
    return 1


def jaccard(a: Signature, b: Signature) -> float:
    """MinHash estimate of the Jaccard similarity: the share of equal signature values."""
    return float(np.count_nonzero(a == b)) / float(a.size)


def exact_jaccard(a: Signature, b: Signature) -> float:
    """Jaccard similarity of two sorted sets of distinct shingle hashes."""
    common = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - common
    return common / union if union else 1.0


@dataclass(frozen=True, eq=False)
class Fingerprint:
    article_id: str
    text_hash: str
    signature: Signature
    keys: tuple[str, ...]  # the hash claim first, then one claim per band
    shingles: Signature  # sorted distinct crc32 of the shingles, for exact verification


class Fingerprinter:
    """Makes fingerprints; permutations are drawn once, not per article (they dominate)."""

    def __init__(self, rows: int, num_perm: int = NUM_PERM) -> None:
        self.rows = rows
        self.bands = num_perm // rows
        # datasketch draws the permutations (making a MinHash draws them each time: once here)
        a, b = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)

    def fingerprint(self, article_id: str, text: str) -> Fingerprint | None:
        """None when the text has no words."""
        words = tokens(text)
        if not words:
            return None
        # crc32 is the shingle hash (twice as fast as the default sha1; affine32 mixes it
        # anyway). Hashed once here for both the sketch and the exact-verification set.
        distinct = _sorted_distinct(np.asarray(shingle_hashes(words), dtype=np.uint32))
        signature = self.sketch(distinct)
        digest = text_hash(words)
        return Fingerprint(article_id, digest, signature, self.keys(digest, signature), distinct)

    def sketch(self, hashes: Signature) -> Signature:
        """The MinHash signature of a non-empty set of 32-bit hashes, as datasketch's ``affine32``
        ``update_batch`` makes it. Ours because that call converts every value through a Python
        list and ``int()`` (half of its time, a tenth of a fingerprint's); this is the same
        arithmetic on the array, tested equal to datasketch's output."""
        mixed = _fmix32(hashes.reshape(-1, 1))
        with np.errstate(over="ignore"):  # uint32 wraparound is the scheme's mod 2^32
            return (mixed * self._a + self._b).min(axis=0)

    def keys(self, digest: str, signature: Signature) -> tuple[str, ...]:
        """Claim keys of a text: also used on a rival's stored signature."""
        bands = []
        for band in range(self.bands):
            chunk = signature[band * self.rows : (band + 1) * self.rows].astype("<u4").tobytes()
            bands.append(f"b{self.rows}.{band}.{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
        return (f"h:{digest}", *bands)


# --- state -----------------------------------------------------------------------------------


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


# One shard: a bulk request is applied in order on its shard, so a claim is never visible
# before the article record written ahead of it. The state is small (a few KB per article).
# No periodic refresh: the state is only read by real-time mget, never searched, so a refresh a
# second only made small segments to merge (a third of Elasticsearch's time on it; 0.76 -> 0.70
# ms of its CPU per article in benchmarks/throughput.py --entities off). Elasticsearch still
# writes segments when its indexing buffer fills. (A state index made by an earlier version
# keeps its refresh: changing settings needs a privilege the workers' role lacks.)
STATE_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"
}
STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": {"type": "keyword"},  # article | hash | band
        "article_id": {"type": "keyword"},  # the article, or the claim's owner
        "cluster_id": {"type": "keyword"},
        "text_hash": {"type": "keyword"},
        "signature": {"type": "long", "index": False, "doc_values": False},
        "shingles": {"type": "binary"},  # base64 of little-endian uint32, not searchable
        "decision": {"type": "object", "enabled": False},
        "at": {"type": "date", "format": "epoch_millis"},  # for pruning old state
    },
}


class StateStoreError(TransientError):
    """The state index refused a read or a write (not a conflict): the batch cannot be decided."""


class ElasticsearchStore:
    """State in an Elasticsearch index shared by all replicas; reads are real-time ``mget``
    (no refresh needed), writes one ``bulk`` of ``create`` operations."""

    def __init__(self, es: Elasticsearch, index: str, *, create_index: bool = True) -> None:
        self.es = es
        self.index = index
        self.round_trips = 0  # requests made by fetch/write/overwrite, for tests and benchmarks
        if create_index:
            self.ensure_index()

    def ensure_index(self) -> None:
        from elasticsearch import BadRequestError

        if self.es.indices.exists(index=self.index):
            # A state index made by version 1.0 lacks the shingle field: adding one is allowed.
            self.es.indices.put_mapping(index=self.index, properties=STATE_MAPPINGS["properties"])
            return
        try:
            self.es.indices.create(
                index=self.index, settings=STATE_SETTINGS, mappings=STATE_MAPPINGS
            )
        except BadRequestError as error:
            if error.error != "resource_already_exists_exception":  # another replica won
                raise

    def fetch(self, article_ids: Collection[str], claim_keys: Collection[str]) -> Snapshot:
        ids = [_article_doc_id(a) for a in article_ids] + list(claim_keys)
        snapshot = Snapshot()
        if not ids:
            return snapshot
        response = self.es.mget(index=self.index, ids=ids)
        self.round_trips += 1
        for doc in response["docs"]:
            if "error" in doc:
                raise StateStoreError(
                    f"dedup state read failed for {doc.get('_id')}: {doc['error']}"
                )
            if not doc.get("found"):
                continue
            source = doc["_source"]
            if source["kind"] == "article":
                snapshot.articles[source["article_id"]] = _state_from_source(source)
            else:
                snapshot.claims[doc["_id"]] = source["article_id"]
        return snapshot

    def write(self, articles: Sequence[ArticleState], claims: Mapping[str, str]) -> WriteResult:
        now = int(time.time() * 1000)
        operations: list[dict[str, Any]] = []
        for state in articles:
            operations += [{"create": {"_id": _article_doc_id(state.article_id)}}]
            operations += [_state_source(state, now)]
        for key, owner in claims.items():
            kind = "hash" if key.startswith("h:") else "band"
            operations += [{"create": {"_id": key}}, {"kind": kind, "article_id": owner, "at": now}]
        result = WriteResult()
        if not operations:
            return result
        for doc_id, status, error in self._bulk(operations):
            if status == 409:  # someone created it first: theirs stands
                if doc_id.startswith("a:"):
                    result.existing_articles.append(doc_id[2:])
                else:
                    result.existing_claims.append(doc_id)
            elif status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")
        return result

    def overwrite(self, articles: Sequence[ArticleState]) -> None:
        now = int(time.time() * 1000)
        operations: list[dict[str, Any]] = []
        for state in articles:
            operations += [{"index": {"_id": _article_doc_id(state.article_id)}}]
            operations += [_state_source(state, now)]
        if not operations:
            return
        for doc_id, status, error in self._bulk(operations):
            if status >= 300:
                raise StateStoreError(f"dedup state write failed for {doc_id}: {error}")

    def _bulk(self, operations: list[dict[str, Any]]) -> Iterable[tuple[str, int, Any]]:
        response = self.es.bulk(
            index=self.index,
            operations=operations,
            refresh=False,
            filter_path="items.*._id,items.*.status,items.*.error",
        )
        self.round_trips += 1
        for item in response["items"]:
            ((_, outcome),) = item.items()
            yield outcome["_id"], outcome["status"], outcome.get("error")

    def close(self) -> None:
        pass  # the client belongs to the worker, which closes it


def _article_doc_id(article_id: str) -> str:
    return f"a:{article_id}"


def _state_source(state: ArticleState, now: int) -> dict[str, Any]:
    return {
        "kind": "article",
        "article_id": state.article_id,
        "cluster_id": state.decision.cluster_id,
        "text_hash": state.text_hash,
        "signature": state.signature.tolist(),
        "decision": state.decision.to_dict(),
        **(
            {"shingles": base64.b64encode(state.shingles.astype("<u4").tobytes()).decode()}
            if state.shingles is not None
            else {}
        ),
        "at": now,
    }


def _state_from_source(source: Mapping[str, Any]) -> ArticleState:
    return ArticleState(
        article_id=source["article_id"],
        text_hash=source["text_hash"],
        signature=np.asarray(source["signature"], dtype=np.uint32),
        decision=Decision.from_dict(source["decision"]),
        shingles=(
            np.frombuffer(base64.b64decode(source["shingles"]), dtype="<u4").astype(np.uint32)
            if "shingles" in source
            else None
        ),
    )


# --- the stage -------------------------------------------------------------------------------


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
    """Offline: state in memory. Otherwise in ``settings.dedup_index``, shared by replicas."""
    store: DedupStore
    if context.offline:
        store = MemoryStore()
    elif context.es is None:
        raise ValueError("the dedup stage needs an Elasticsearch client unless offline")
    else:
        store = ElasticsearchStore(context.es, settings.dedup_index)
    return DedupStage(store, threshold=settings.dedup_threshold)
