"""A pipeline of real worker processes on topics, groups and an index of its own, for the
benchmarks: made on entry, and on exit the workers stopped and the topics and index dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from elasticsearch import Elasticsearch

from newsflow.config import Settings
from workers.io import elastic, kafka_admin
from workers.settings import settings_env
from workers.topology import STAGES

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Namespace:
    tag: str
    settings: Settings
    es: Elasticsearch
    workers: list[tuple[str, subprocess.Popen[bytes]]]  # ("<stage>-<n>", process)
    stages: dict[str, str]  # each worker's stage, by its name


@contextmanager
def namespace(base: Settings, prefix: str, *, replicas: dict[str, int] | None = None,
              logs: Path | None = None, **update: Any) -> Iterator[Namespace]:
    """``replicas`` workers per stage (default one each), their output to ``logs/<tag>-<stage>-
    <n>.log`` (or discarded); ``update``: more settings for them (``entities_enabled``...)."""
    tag = uuid.uuid4().hex[:8]
    name = f"{prefix}-{tag}"
    settings = base.model_copy(update={
        "topic_prefix": name, "group_prefix": name, "es_alias": name, **update})
    kafka_admin.ensure_topics(settings)
    es = elastic.client(settings)
    elastic.ensure_index(es, settings)
    env = {**os.environ, **settings_env(settings)}
    workers: list[tuple[str, subprocess.Popen[bytes]]] = []
    stages: dict[str, str] = {}
    with ExitStack() as files:
        try:
            for stage in STAGES:
                for n in range((replicas or {}).get(stage, 1)):
                    worker = f"{stage}-{n}"
                    stages[worker] = stage
                    out: IO[bytes] | int = subprocess.DEVNULL
                    if logs is not None:
                        out = files.enter_context(open(logs / f"{tag}-{worker}.log", "wb"))
                    workers.append((worker, subprocess.Popen(
                        [sys.executable, "-m", "newsflow", "worker", stage], env=env, cwd=REPO,
                        stdout=out, stderr=subprocess.STDOUT)))
            yield Namespace(tag, settings, es, workers, stages)
        finally:
            for _, proc in workers:
                proc.terminate()
            for _, proc in workers:
                proc.wait(timeout=60)
            elastic.drop_index(es, settings)
            kafka_admin.delete_topics(settings)
