"""What the local stack runs, pinned: versions, checksums, Maven coordinates, the NER model.

Kafka's and CoreNLP's versions are pinned in their poms (``stack/kafka/pom.xml``,
``stack/corenlp/pom.xml``); Elasticsearch's zip and the Maven plugin that fetches everything
are pinned here.
"""

from __future__ import annotations

# Keep in step with the `elasticsearch` Python client (same major.minor: 9.5.x). Maven Central's
# index file for this artifact stops at 8.19, but the 9.x zips are there under their paths.
ES_VERSION = "9.5.3"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
# Maven Central publishes no checksum for the 9.x integ-test zips: this pin is the check.
ES_SHA256 = "bec49f3b8d00e75c8d1cec85c35298635ec9fbd3ae80ef5aeb6bc05abdb3db2d"
# Plugin pinned by full coordinates: otherwise Maven picks whatever its version defaults to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# The entities stage's CoreNLP NER models per language, inside the CoreNLP models jars
# (stack/corenlp/pom.xml), as NerServer.java takes them: English's CoNLL-2003 CRF first (the
# default), German's GermEval 2014 CRF, Spanish's AnCora CRF; and ours for Dutch and Italian
# (scripts/train_ner.py), found on the server's classpath in workers/data/ner.
CORENLP_MODELS = {
    "en": "edu/stanford/nlp/models/ner/english.conll.4class.distsim.crf.ser.gz",
    "de": "edu/stanford/nlp/models/ner/german.distsim.crf.ser.gz",
    "es": "edu/stanford/nlp/models/ner/spanish.ancora.distsim.s512.crf.ser.gz",
    "nl": "newsflow-ner-nl.crf.ser.gz",
    "it": "newsflow-ner-it.crf.ser.gz",
}
CORENLP_MODELS_ARG = ",".join(f"{lang}={model}" for lang, model in CORENLP_MODELS.items())
# Where our own models lie (on the CoreNLP server's classpath), relative to the repository.
OUR_NER_MODELS = "workers/data/ner"
