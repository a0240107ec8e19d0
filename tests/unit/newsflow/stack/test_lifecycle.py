"""`newsflow stack clean` (make clean) deletes the stack folder and, when Elasticsearch's files
were relocated under /var/tmp (a private checkout, as root), that folder too."""

from __future__ import annotations

import os
from pathlib import Path

from newsflow import stack
from newsflow.config import Settings
from newsflow.stack.paths import Paths


def _settings(root: Path) -> Settings:
    # Ports nothing listens on: down() must find nothing of ours to stop and say so.
    return Settings(stack_dir=root, kafka_bootstrap="127.0.0.1:1",
                    es_url="http://127.0.0.1:1", prefect_api_url="http://127.0.0.1:1/api")


def test_clean_removes_the_stack_folder(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "kafka.log").write_text("old")
    assert stack.remove(_settings(root)) == [root.resolve()]
    assert not root.exists()
    assert stack.remove(_settings(root)) == []  # twice is fine


def test_clean_removes_the_relocated_elasticsearch_folder(tmp_path: Path) -> None:
    private = tmp_path / "private"
    root = private / "stack"
    root.mkdir(parents=True)
    private.chmod(0o700)
    paths = Paths.of(_settings(root))
    if os.geteuid() != 0:  # only root relocates (Elasticsearch then runs as another user)
        assert paths.es_base == paths.root
        return
    assert paths.es_base.parent == Path("/var/tmp")
    (paths.es_base / "data").mkdir(parents=True)
    removed = stack.remove(_settings(root))
    assert set(removed) == {paths.es_base, paths.root}
    assert not paths.es_base.exists() and not root.exists()
