"""`newsflow audit` and `newsflow dlq list|replay` against the real Kafka and Elasticsearch."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from flows.replay_dlq import replay
from newsflow.audit import audit
from tests.integration.conftest import REPO, Pipeline, wait_for
from tests.integration.faults.corpus import check_books, make_corpus, progress, publish
from workers.io import kafka_admin
from workers.io.dead_letters import list_dead
from workers.topology import RAW, STAGES


def _books_balanced(pipeline: Pipeline, good: int) -> bool:
    if progress(pipeline.settings) < good:
        return False
    rec = audit(pipeline.settings).reconciliation
    return rec is not None and rec.balanced


def _cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsflow", *args], env=pipeline.env(),
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def _raw_end(pipeline: Pipeline) -> int:
    return sum(kafka_admin.end_offsets(pipeline.settings,
                                       pipeline.settings.topic(RAW)).values())


def test_audit_reconciles_and_dead_letters_replay_once(pipeline: Pipeline) -> None:
    limit = 64 * 1024
    pipeline.settings = pipeline.settings.model_copy(update={"max_message_bytes": limit})
    settings = pipeline.settings
    corpus = make_corpus(settings.topic_prefix, 40, limit, poison_every=5)  # 8 poison, 2 a kind
    publish(settings, corpus.messages)
    pipeline.start()
    wait_for(lambda: _books_balanced(pipeline, len(corpus.good_ids)), timeout=240,
             what="every article indexed or dead-lettered")
    result = check_books(settings, corpus)
    assert result.dead_letters == {"clean": {"not-json": 2, "invalid": 2, "too-large": 2},
                                   "index": {"index-rejected": 2}}
    assert all(g.lag == 0 for g in result.groups), result.groups

    dead = list_dead(settings)
    assert len(dead) == 8
    for d in dead:  # what a dead letter must say about itself
        assert d.attempts == 1 and d.error and d.error_type
        topic, partition, offset = d.source.rsplit("/", 2)
        assert int(partition) >= 0 and int(offset) >= 0
        assert topic == STAGES[d.stage].input_topic(settings)
    assert all(d.article_id for d in dead if d.stage == "index")
    assert {d.reason for d in list_dead(settings, stage="index")} == {"index-rejected"}
    assert len(list_dead(settings, reason="invalid")) == 2
    assert list_dead(settings, since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(list_dead(settings, until=datetime.now(UTC) + timedelta(minutes=1))) == 8

    # The CLI says the same, as JSON.
    out = _cli(pipeline, "dlq", "list", "--reason", "too-large", "--json")
    assert out.returncode == 0, out.stderr
    listed = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(x["stage"], x["reason"]) for x in listed] == [("clean", "too-large")] * 2
    out = _cli(pipeline, "audit", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    books = json.loads(out.stdout)
    assert books["reconciliation"]["balanced"] is True
    assert books["documents"] == len(corpus.good_ids)

    # Replay: a dry run sends nothing; a replay sends each once; a second sends nothing.
    # (`until`: the workers run on, and dead-letter the unfixed replays anew: those new
    # dead letters are replayable in their own right, and not what is checked here.)
    before, now = _raw_end(pipeline), datetime.now(UTC)
    assert len(replay(settings, reason="invalid", until=now, dry_run=True).replayed) == 2
    assert _raw_end(pipeline) == before
    first = replay(settings, reason="invalid", until=now)
    assert len(first.replayed) == 2
    assert first.by_topic(settings) == {settings.topic(RAW): 2}
    assert _raw_end(pipeline) == before + 2
    again = replay(settings, reason="invalid", until=now)
    assert (len(again.replayed), again.already) == (0, 2)
    assert _raw_end(pipeline) == before + 2
    out = _cli(pipeline, "dlq", "replay", "--stage", "index", "--until",
               now.strftime("%Y-%m-%dT%H:%M:%S"))
    assert out.returncode == 0 and "replayed 2" in out.stdout, out.stdout + out.stderr

    # Unfixed, the replayed messages fail again: new dead letters, same articles, and
    # the books still balance (inputs are counted by identity, not by message).
    wait_for(lambda: len(list_dead(settings)) == 12, timeout=120,
             what="the replayed messages to be dead-lettered again")
    wait_for(lambda: _books_balanced(pipeline, len(corpus.good_ids)), timeout=60,
             what="balanced books after the replay")
    check_books(settings, corpus)
