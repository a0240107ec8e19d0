"""Where the local stack's files live, all under the stack folder."""

from __future__ import annotations

import os
from pathlib import Path

from newsflow.config import Settings
from newsflow.stack.paths import STACK_FILES, Paths
from newsflow.stack.pins import ES_VERSION


def test_every_folder_is_under_the_stack_folder(tmp_path: Path) -> None:
    paths = Paths.of(Settings(stack_dir=tmp_path / "s"))
    root = (tmp_path / "s").resolve()
    assert paths.root == root
    assert paths.run == root / "run"
    assert paths.log("kafka") == root / "logs" / "kafka.log"
    assert paths.kafka == root / "kafka" and paths.corenlp == root / "corenlp"
    if os.geteuid() != 0:  # as root, a private folder moves Elasticsearch to /var/tmp
        assert paths.es_home == root / "elasticsearch" / f"elasticsearch-{ES_VERSION}"
        assert paths.es_logs == root / "logs" / "elasticsearch"


def test_the_templates_are_in_the_repository() -> None:
    for template in ("kafka/server.properties", "kafka/pom.xml", "corenlp/pom.xml",
                     "corenlp/NerServer.java", "elasticsearch/elasticsearch.yml"):
        assert (STACK_FILES / template).is_file(), template
