"""A small stage written for the runtime's tests: no services, no real stage's code."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel

from workers.runtime.batch import BatchProcessor, Message, Result
from workers.stage import Emit, Fail, Skip
from workers.topology import StageSpec


class In(BaseModel):
    id: str
    text: str


class Out(BaseModel):
    id: str
    upper: str


class Shouting:
    """Upper-cases text; skips 'skip', fails on 'fail', and crashes the batch on 'boom'."""

    name = "shout"
    version = "1"

    def __init__(self) -> None:
        self.closed = False

    def process(self, batch: Sequence[In]) -> list:
        if any(a.text == "boom" for a in batch):
            raise RuntimeError("boom")
        out: list = []
        for a in batch:
            if a.text == "skip":
                out.append(Skip("too-short", "one word"))
            elif a.text == "fail":
                out.append(Fail(ValueError("cannot")))
            else:
                out.append(Emit(Out(id=a.id, upper=a.text.upper())))
        return out

    def close(self) -> None:
        self.closed = True


SPEC = StageSpec("shout", "1", "in", "out", In, Out)


def run(values: list[bytes], max_bytes: int = 1000) -> list[Result]:
    processor = BatchProcessor(SPEC, Shouting(), max_bytes)
    return processor.run([Message(v, offset=i) for i, v in enumerate(values)])


def msg(i: int, text: str) -> bytes:
    return json.dumps({"id": str(i), "text": text}).encode()
