"""Prefect flow ``publish``: files (JSONL, gzip, a folder of .txt/.html) or the seeds into
``news.raw``, keyed by article id (waiting for their outcomes: ``newsflow.outcomes``).

Accepted inputs (a path may be a file or a folder, searched recursively):
- ``.jsonl`` / ``.jsonl.gz`` / ``.ndjson``: one raw-article JSON object per line, sent as is;
- ``.json``: one object, or an array of objects;
- ``.txt``: first line the title, the rest the text;
- ``.html`` / ``.htm``: the page, as ``html``.
Files other than JSON get the URL ``<url_prefix><path relative to the folder>``.

Lines are sent byte for byte, even when they are not valid JSON or lack a URL: the clean stage
dead-letters them with a reason, so nothing disappears at the door.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from kafka import KafkaProducer
from prefect import flow, get_run_logger

from flows.progress import Progress
from flows.seeds import seed_lines
from flows.settings import FlowSettings, load_settings
from schemas.articles import article_id
from workers.io import kafka_admin
from workers.io.kafka_clients import make_producer
from workers.settings import WorkerSettings
from workers.topology import RAW

log = logging.getLogger(__name__)

# Percent-encoded in file names made into URLs (a URL with a space is not an article's).
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
DOC_SUFFIXES = (".txt", ".html", ".htm")


def _is(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


def input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    wanted = JSONL_SUFFIXES + DOC_SUFFIXES + (".json",)
    return sorted(p for p in path.rglob("*") if p.is_file() and _is(p, wanted))


def read_messages(path: Path, url_prefix: str = "file:///") -> Iterator[bytes]:
    """Raw ``news.raw`` message values from a file or folder, in a stable order."""
    root = path if path.is_dir() else path.parent
    for file in input_files(path):
        if _is(file, JSONL_SUFFIXES):
            opener = gzip.open if file.name.endswith(".gz") else open
            with opener(file, "rb") as fh:
                for line in fh:
                    if line.strip():
                        yield line.rstrip(b"\r\n")
        elif file.suffix.lower() == ".json":
            raw = file.read_bytes()
            try:
                data = json.loads(raw)
            except ValueError:
                yield raw  # sent as it is: the clean stage dead-letters it as not-json
                continue
            for item in data if isinstance(data, list) else [data]:
                yield json.dumps(item, ensure_ascii=False).encode()
        else:
            url = url_prefix + _SPACE_OR_CONTROL.sub(
                lambda m: quote(m.group()), file.relative_to(root).as_posix())
            text = file.read_text(encoding="utf-8", errors="replace")
            if file.suffix.lower() == ".txt":
                title, _, body = text.partition("\n")
                record = {"url": url, "title": title.strip(), "text": body}
            else:
                record = {"url": url, "html": text}
            yield json.dumps(record, ensure_ascii=False).encode()


def key_of(value: bytes) -> bytes | None:
    """Kafka key of a raw message: the article id when the message has a URL, else none."""
    try:
        url = json.loads(value).get("url")
    except (ValueError, AttributeError):
        return None
    return article_id(url).encode() if isinstance(url, str) and url.strip() else None


@dataclass
class PublishReport:
    topic: str
    published: int = 0
    ids: list[str] = field(default_factory=list)  # article ids of the messages with a URL
    # ``raw:<partition>/<offset>`` of the messages without one (the audit's identity)
    unkeyed: list[str] = field(default_factory=list)


def publish(
    settings: WorkerSettings,
    messages: Iterable[bytes],
    *,
    producer: KafkaProducer | None = None,
    progress: Progress | None = None,
    total: int | None = None,
) -> PublishReport:
    """Send message values to ``news.raw`` keyed by article id; returns once all are acked.

    ``progress(sent, total)`` after each message handed to the producer."""
    topic = settings.topic(RAW)
    own = producer is None
    if own:  # a caller that passes its producer (backfills, per batch) checked it once
        kafka_admin.require_topic(settings, topic)
    producer = producer or make_producer(settings)
    report = PublishReport(topic)
    futures = []
    try:
        for value in messages:
            key = key_of(value)
            futures.append((key, producer.send(topic, key=key, value=value)))
            report.published += 1
            if key:
                report.ids.append(key.decode())
            if progress:
                progress(report.published, total)
        producer.flush()
        for key, future in futures:
            sent = future.get(timeout=30)
            if key is None:
                report.unkeyed.append(f"raw:{sent.partition}/{sent.offset}")
    finally:
        if own:
            producer.close()
    log.info("published", extra={"topic": topic, "count": report.published})
    return report


def publish_to(settings: WorkerSettings, topic: str, records: Iterable[tuple[bytes, bytes]]) -> int:
    """Send ``(key, value)`` pairs to any pipeline topic; returns once all are acked."""
    producer = make_producer(settings)
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
        return len(futures)
    finally:
        producer.close()


@flow(name="publish", log_prints=True)
def publish_flow(
    paths: list[str] | None = None,
    seeds: bool = False,
    url_prefix: str = "file:///",
    settings: FlowSettings | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    settings = settings or load_settings()
    logger = get_run_logger()
    messages: list[bytes] = seed_lines(settings.shared_dir) if seeds else []
    for path in paths or []:
        messages.extend(read_messages(Path(path), url_prefix))
    logger.info("publishing %d messages to %s", len(messages), settings.topic(RAW))
    report = publish(settings, messages, progress=progress, total=len(messages))
    logger.info("published %d messages (%d with a URL)", report.published, len(report.ids))
    return {"topic": report.topic, "published": report.published, "ids": report.ids,
            "unkeyed": report.unkeyed}
