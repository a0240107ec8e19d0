"""What a stage is, for the runtime: a batch of validated inputs in, one outcome per input out.

A stage never touches Kafka, the environment or logging setup; the runtime loop in
``workers/runtime/`` does the consuming, dead-lettering, producing and committing. A stage
that holds state (a model, a store client) is a small class built once per worker by its
``build(settings, context)`` function; ``close()`` releases what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

In = TypeVar("In", bound=BaseModel, contravariant=True)
Out = TypeVar("Out", bound=BaseModel)


@dataclass(frozen=True)
class Emit(Generic[Out]):
    """The article goes on to the next topic (or, for ``index``, into Elasticsearch)."""

    article: Out


@dataclass(frozen=True)
class Skip:
    """The article is not worth keeping; recorded on ``news.skipped`` with this reason."""

    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class Fail:
    """The article cannot be processed, for good: it goes to the dead-letter topic."""

    error: BaseException


Outcome = Emit[Any] | Skip | Fail


class TransientError(RuntimeError):
    """A fault of the infrastructure a stage uses (its state store is down, say), not of the
    article: the runtime retries the batch with backoff instead of dead-lettering it."""


class Stage(Protocol[In]):
    name: str
    version: str

    def process(self, batch: Sequence[In]) -> list[Outcome]:
        """One outcome per input, in order. Raising fails the whole batch: the runtime then
        re-runs its items one by one so that only the bad ones are dead-lettered."""
        ...

    def close(self) -> None: ...


@dataclass
class StageContext:
    """What a worker hands its stages besides settings: shared clients, offline or not.

    ``offline`` is true for ``newsflow worker STAGE --input ... --output ...``: stages keep
    their state in memory instead of in Elasticsearch.
    """

    offline: bool = False
    es: Elasticsearch | None = None
    extras: dict[str, Any] = field(default_factory=dict)
