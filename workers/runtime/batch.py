"""decode → validate → process for a batch of messages, with one outcome per message.

In: :class:`Message` records (from Kafka or a JSONL file) and a stage. Out: a :class:`Result`
per message: ``emitted`` (with the stage's output), ``skipped`` (with the reason) or ``dead``
(with the reason and error). Shared by the Kafka worker and the offline mode, so both give the
same output for the same input. A message that is not JSON or not a valid article is dead
here, before the stage sees it; an article that makes the stage fail is run again alone, up to
``max_attempts`` runs, before it is dead. Infrastructure faults (:func:`is_transient`) are
raised to the caller, which retries the batch (``workers.runtime.backoff``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from workers.runtime.backoff import transient
from workers.stage import Emit, Fail, Skip, Stage
from workers.topology import StageSpec

log = logging.getLogger(__name__)

Kind = Literal["emitted", "skipped", "dead"]


@dataclass(frozen=True)
class Message:
    """One input record, wherever it came from (a Kafka topic or a JSONL line)."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    topic: str = "-"
    partition: int = -1
    offset: int = -1


@dataclass
class Result:
    message: Message
    kind: Kind
    article_id: str | None = None
    url: str | None = None
    output: BaseModel | None = None
    reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1  # runs of the stage on this article (dead letters: all of them failed)


class BatchProcessor:
    """decode → validate → process for a batch of messages; shared by the Kafka worker and
    the offline JSONL mode, so both give the same output for the same input.

    ``max_attempts``: how many runs of the stage an article gets before a failure counts as
    its own, for good (a stage error that repeats), and it is dead-lettered."""

    def __init__(self, spec: StageSpec, stage: Stage[Any], max_message_bytes: int,
                 max_attempts: int = 3) -> None:
        self.spec = spec
        self.stage = stage
        self.max_message_bytes = max_message_bytes
        self.max_attempts = max(1, max_attempts)

    def run(self, messages: Sequence[Message]) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)
        valid: list[tuple[int, BaseModel]] = []
        for i, message in enumerate(messages):
            parsed = self._validate(message)
            if isinstance(parsed, Result):
                results[i] = parsed
            else:
                valid.append((i, parsed))

        outcomes = self._process([model for _, model in valid])
        for (i, model), (outcome, attempts) in zip(valid, outcomes, strict=True):
            message = messages[i]
            aid, url = getattr(model, "id", None), getattr(model, "url", None)
            if isinstance(outcome, Emit):
                results[i] = Result(message, "emitted", getattr(outcome.article, "id", aid),
                                    url, outcome.article, attempts=attempts)
            elif isinstance(outcome, Skip):
                results[i] = Result(message, "skipped", aid, url, reason=outcome.reason,
                                    error=outcome.detail, attempts=attempts)
            else:
                results[i] = _dead(message, "stage-error", outcome.error, aid)
                results[i].attempts = attempts  # type: ignore[union-attr]
        return [r for r in results if r is not None]

    def _validate(self, message: Message) -> BaseModel | Result:
        value = message.value
        if value is None or not value.strip():
            return _dead(message, "empty-message", ValueError("message has no value"))
        if len(value) > self.max_message_bytes:
            size = f"{len(value)} bytes > limit {self.max_message_bytes}"
            return _dead(message, "too-large", ValueError(size))
        try:
            # Parse and validate in one pass (pydantic's own JSON parser): the common case.
            return self.spec.input_model.model_validate_json(value)
        except ValidationError:
            pass  # rare: redo it in two steps, whose errors tell bad JSON from a bad article
        try:
            data = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _dead(message, "not-json", exc)
        if not isinstance(data, dict):
            return _dead(message, "not-json", ValueError("message is JSON but not an object"))
        try:
            return self.spec.input_model.model_validate(data)
        except ValidationError as exc:
            return _dead(message, "invalid", exc, data.get("id"))

    def _process(self, models: list[BaseModel]) -> list[tuple[Emit[Any] | Skip | Fail, int]]:
        """One (outcome, runs) per model. A failure is retried with the article alone until
        it has had ``max_attempts`` runs: a flaky failure then passes, a real one is final."""
        if not models:
            return []
        try:
            batch_outcomes = self.stage.process(models)
        except Exception as exc:
            if transient(exc):
                raise  # not the articles' fault: the worker retries the batch
            # One bad article must not sink the batch: retry alone to find who fails. The
            # batch run is not counted against anyone: it cannot say whose fault it was.
            log.warning("batch failed, retrying its articles one by one",
                        extra={"stage": self.spec.name, "size": len(models)}, exc_info=True)
            return [self._retry_alone(model, 0, None) for model in models]
        if len(batch_outcomes) != len(models):
            raise RuntimeError(f"stage {self.spec.name} returned {len(batch_outcomes)} "
                               f"outcomes for {len(models)} inputs")
        return [self._retry_alone(model, 1, outcome) if isinstance(outcome, Fail)
                else (outcome, 1) for model, outcome in zip(models, batch_outcomes, strict=True)]

    def _retry_alone(self, model: BaseModel, runs: int, last: Fail | None
                     ) -> tuple[Emit[Any] | Skip | Fail, int]:
        while runs < self.max_attempts:
            runs += 1
            try:
                [outcome] = self.stage.process([model])
            except Exception as exc:
                if transient(exc):
                    raise
                outcome = Fail(exc)
            if not isinstance(outcome, Fail):
                return outcome, runs
            last = outcome
        assert last is not None
        return last, runs  # failed every run: the article's own fault, dead-letter it


def _dead(message: Message, reason: str, exc: BaseException, aid: str | None = None) -> Result:
    text = str(exc)
    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
    return Result(message, "dead", aid, reason=reason, error=text[:2000],
                  error_type=type(exc).__name__)

