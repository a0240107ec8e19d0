"""Contracts: the wire models of every topic and every Elasticsearch index definition.

Models: ``schemas.articles``. Definitions, loaded at run time from ``schemas/es/`` (``ES_DIR``):
the versioned news index ``news-v<N>.json``, its lifecycle ``news-ilm.json``, and the dedup
stage's state index ``dedup-state.json``, the stories stage's ``stories.json``.
"""

from pathlib import Path

ES_DIR = Path(__file__).parent / "es"
