"""The stories shared by every replica, in one Elasticsearch index (``StoryStore`` over ES).

- ``nearest``: one ``msearch`` of kNN queries on the stories' vectors, filtered to stories
  seen within the window and not merged.
- ``founding``: a lock document in ``<index>-lock``, created if absent (the one atomic step
  Elasticsearch offers across replicas), with a lease so that a holder that died does not
  block the others for long. The holder refreshes the stories index before letting go, so
  the next holder's kNN sees every story founded before it.
- ``join``: optimistic concurrency: the story is read in real time with its sequence number,
  grown by :func:`workers.stories.store.joined` and written back only if nobody wrote it in
  between; on a conflict it is read again and the join re-applied.

Settings and mappings: ``schemas/es/stories.json``. A read or write that fails for a while
(unreachable, 429, 5xx) raises ``StoryStoreError``, a transient error: the batch is retried;
a story refused for good (4xx) raises ``StoryRejected``: the article is dead-lettered.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from schemas import ES_DIR
from workers.stage import TransientError
from workers.stories.store import Member, Story, joined

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

DEFINITION = json.loads((ES_DIR / "stories.json").read_text(encoding="utf-8"))
LOCK_ID = "founding"
LEASE_SECONDS = 30.0  # a holder founds one batch in well under a second
WAIT_SECONDS = 60.0  # give up (and let the batch be retried) after waiting this long
JOIN_ATTEMPTS = 10


class StoryStoreError(TransientError):
    """The stories index failed a read or a write, or the founding lock stayed taken."""


class StoryRejected(ValueError):
    """The stories index refused a story for good (HTTP 4xx): not a fault that waiting cures.
    The batch fails, and the runtime re-runs it one article at a time, dead-lettering the one
    whose story cannot be written."""


def _check(item: dict[str, Any], what: str) -> bool:
    """True if the bulk item succeeded; False on a conflict (409); raise otherwise."""
    status = item["status"]
    if status < 300:
        return True
    if status == 409:
        return False
    if status == 429 or status >= 500:
        raise StoryStoreError(f"{what} {item['_id']}: HTTP {status}: {item.get('error')}")
    raise StoryRejected(f"{what} {item['_id']}: HTTP {status}: {item.get('error')}")


def _to_doc(story: Story) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "story_id": story.story_id, "founded_at": int(story.founded_at * 1000),
        "last_seen": int(story.last_seen * 1000), "size": story.size, "title": story.title,
        "text": story.text, "language": story.language,
        "representative": story.representative,
        "representative_fit": story.representative_fit, "sources": list(story.sources),
        "languages": list(story.languages), "merged_into": story.merged_into}
    if story.vector is not None:
        doc["vector"] = story.vector
    return {k: v for k, v in doc.items() if v is not None}


def _from_doc(doc: dict[str, Any]) -> Story:
    return Story(doc["story_id"], doc["founded_at"] / 1000, doc["last_seen"] / 1000,
                 doc["size"], doc.get("vector"), doc.get("title", ""), doc.get("text", ""),
                 doc.get("language"), doc["representative"], doc["representative_fit"],
                 tuple(doc.get("sources", ())), tuple(doc.get("languages", ())),
                 doc.get("merged_into"))


class ElasticsearchStore:
    """Stories in ``index``, created if absent, with ``replicas()`` replicas.

    Nothing is asked of Elasticsearch until the first batch: a worker started while a node
    is down must not die at start (a new process would ask the same dead node first again);
    inside a batch a fault is a transient error, waited out by the runtime's backoff while
    the client learns which nodes are down."""

    def __init__(self, es: Elasticsearch, index: str, *,
                 replicas: Callable[[], int] = lambda: 0, create_index: bool = True) -> None:
        self.es = es
        self.index = index
        self.lock_index = f"{index}-lock"
        self.owner = uuid.uuid4().hex
        self._replicas = replicas
        self._ready = not create_index

    def _create_indices(self) -> None:
        if self._ready:
            return
        from elasticsearch import BadRequestError

        settings = {**DEFINITION["settings"], "number_of_replicas": self._replicas()}
        for name, mappings in ((self.index, DEFINITION["mappings"]),
                               (self.lock_index, DEFINITION["mappings_lock"])):
            try:
                self.es.indices.create(index=name, settings=settings, mappings=mappings)
            except BadRequestError as exc:  # another replica made it first
                if exc.error != "resource_already_exists_exception":
                    raise
        self._ready = True

    def nearest(self, vectors: Sequence[list[float] | None], since: float, k: int
                ) -> list[list[Story]]:
        from elasticsearch import ApiError

        self._create_indices()
        asked = [v for v in vectors if v is not None]
        if not asked:
            return [[] for _ in vectors]
        live = {"bool": {"filter": [{"range": {"last_seen": {"gte": int(since * 1000)}}}],
                         "must_not": [{"exists": {"field": "merged_into"}}]}}
        searches: list[dict[str, Any]] = []
        for query_vector in asked:
            searches.append({"index": self.index})
            searches.append({"size": k, "_source": {"excludes": ["vector"]}, "knn": {
                "field": "vector", "query_vector": query_vector, "k": k,
                "num_candidates": max(50, 4 * k), "filter": live}})
        try:
            responses = self.es.msearch(searches=searches)["responses"]
        except ApiError as exc:
            raise StoryStoreError(f"stories kNN failed: {exc}") from exc
        found = iter(responses)
        out: list[list[Story]] = []
        for vec in vectors:
            if vec is None:
                out.append([])
                continue
            response = next(found)
            if "error" in response:
                raise StoryStoreError(f"stories kNN failed: {response['error']}")
            # The vector is left out of the answer (the stage scores by text): 256 floats a
            # story would be most of the bytes.
            out.append([_from_doc(hit["_source"]) for hit in response["hits"]["hits"]])
        return out

    @contextmanager
    def founding(self) -> Iterator[None]:
        self._create_indices()
        seq = self._acquire()
        try:
            yield
            self.es.indices.refresh(index=self.index)
        finally:
            self._release(seq)

    def _acquire(self) -> tuple[int, int]:
        from elasticsearch import ApiError, ConflictError, NotFoundError

        deadline = time.monotonic() + WAIT_SECONDS
        pause = 0.005
        while True:
            try:
                done = self.es.create(index=self.lock_index, id=LOCK_ID, document={
                    "owner": self.owner, "expires_at": int((time.time() + LEASE_SECONDS) * 1000)})
                return done["_seq_no"], done["_primary_term"]
            except ConflictError:
                pass
            except ApiError as exc:
                raise StoryStoreError(f"founding lock: {exc}") from exc
            try:
                held = self.es.get(index=self.lock_index, id=LOCK_ID)
                if held["_source"]["expires_at"] < time.time() * 1000:
                    log.warning("founding lock of %s expired: taken over",
                                held["_source"]["owner"],
                                extra={"outcome": "lock-expired"})
                    self.es.delete(index=self.lock_index, id=LOCK_ID,
                                   if_seq_no=held["_seq_no"],
                                   if_primary_term=held["_primary_term"])
                    continue
            except (NotFoundError, ConflictError):
                continue  # let go or taken over meanwhile: try again at once
            if time.monotonic() > deadline:
                raise StoryStoreError(f"founding lock still held after {WAIT_SECONDS:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _release(self, seq: tuple[int, int]) -> None:
        from elasticsearch import ConflictError, NotFoundError

        try:
            self.es.delete(index=self.lock_index, id=LOCK_ID, if_seq_no=seq[0],
                           if_primary_term=seq[1])
        except (ConflictError, NotFoundError):
            log.warning("founding lock was taken over before it was let go (lease expired)",
                        extra={"outcome": "lock-lost"})

    def create(self, stories: Sequence[Story]) -> None:
        if not stories:
            return
        self._create_indices()
        operations: list[dict[str, Any]] = []
        for story in stories:
            operations += [{"create": {"_index": self.index, "_id": story.story_id}},
                           _to_doc(story)]
        result = self.es.bulk(operations=operations)
        for item in result["items"]:
            _check(item["create"], "story not created")  # a conflict: founded before (replay)

    def join(self, members: Sequence[tuple[str, Member]]) -> None:
        from elasticsearch import ApiError

        self._create_indices()
        todo: dict[str, list[Member]] = {}
        for story_id, member in members:
            todo.setdefault(story_id, []).append(member)
        for _ in range(JOIN_ATTEMPTS):
            if not todo:
                return
            try:
                docs = self.es.mget(index=self.index, ids=list(todo))["docs"]
            except ApiError as exc:
                raise StoryStoreError(f"stories read failed: {exc}") from exc
            operations: list[dict[str, Any]] = []
            for doc in docs:
                if not doc.get("found"):
                    raise StoryStoreError(f"story {doc['_id']} to join does not exist")
                story = _from_doc(doc["_source"])
                for member in todo[doc["_id"]]:
                    story = joined(story, member)
                operations += [{"index": {"_index": self.index, "_id": doc["_id"],
                                          "if_seq_no": doc["_seq_no"],
                                          "if_primary_term": doc["_primary_term"]}},
                               _to_doc(story)]
            result = self.es.bulk(operations=operations)
            todo = {item["index"]["_id"]: todo[item["index"]["_id"]] for item in result["items"]
                    if not _check(item["index"], "story not updated")}
        raise StoryStoreError(f"stories {sorted(todo)} kept changing under {JOIN_ATTEMPTS} joins")

    def merge(self, young: str, old: str) -> None:
        from elasticsearch import ApiError

        try:
            self.es.update(index=self.index, id=young, doc={"merged_into": old},
                           retry_on_conflict=JOIN_ATTEMPTS)
        except ApiError as exc:
            raise StoryStoreError(f"merge of {young} into {old} failed: {exc}") from exc

    def close(self) -> None:
        pass
