"""The stage the entities tests share: spaCy's model, no CoreNLP server (the rules, offline)."""

from __future__ import annotations

import pytest

from newsflow.config import Settings
from tests.unit.workers.entities.helpers import CONTEXT
from workers.entities.stage import EntitiesStage, build


# Built once for the folder: loading GeoNames and the model takes seconds.
@pytest.fixture(scope="package")
def stage() -> EntitiesStage:
    return build(Settings(ner_backend="spacy"), CONTEXT)
