"""Wire models of every topic (``schemas.articles``) and the versioned Elasticsearch index
definitions (``schemas/es/news-v<N>.json``, loaded at run time)."""

from pathlib import Path

ES_DIR = Path(__file__).parent / "es"
