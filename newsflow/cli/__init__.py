"""``newsflow``: the one command for people. Settings are loaded here, once, and passed down.

    newsflow stack up|down|status|init   local Kafka, Elasticsearch, Prefect (+ workers)
    newsflow workers start|stop          the stage workers as background processes
    newsflow deploy                      the stage workers as Prefect deployments
    newsflow worker STAGE                one stage in the foreground (or offline over JSONL)
    newsflow publish PATH...             files into news.raw (through the Prefect flow)
    newsflow search QUERY                faceted full-text search
    newsflow story STORY_ID              a story's articles over time
    newsflow backfill|reenrich|reindex|rollover   history, new stage versions, new mappings
    newsflow audit | dlq list|replay     are the books balanced; dead letters
    newsflow stories similarity          story similarity of article pairs, offline

Each command group lives in its own module of this package; this one holds the app, the
callback every command line goes through, and :func:`run`, the console script.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from newsflow.cli import ops, pipeline, search, stack, stories, workers
from newsflow.cli.common import fail
from newsflow.cli.errors import explain
from newsflow.config import Settings, load_settings
from workers.runtime import logs
from workers.settings import env_var

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})


def _opt(field: str, help: str, **kw: Any) -> Any:
    """An option bound to a settings field, showing its environment variable in --help."""
    return typer.Option(f"--{field.replace('_', '-')}", envvar=env_var(field),
                        show_envvar=True, help=help, **kw)


def configure_process(settings: Settings) -> None:
    """Set this process up for ``settings``: logging, and Prefect pointed at our server.

    Prefect reads its own ``PREFECT_API_URL``; so that flow runs are recorded on our server, a
    server given to us (``--prefect-api-url``, ``NEWSFLOW_PREFECT_API_URL``) wins over it, while
    our default only fills it in when it is unset.
    """
    logs.setup(settings.log_level, settings.log_format)
    if "prefect_api_url" in settings.model_fields_set:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    else:
        os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)


def local_cluster(settings: Settings) -> Settings:
    """After ``stack up --nodes N``, every command talks to all N brokers and Elasticsearch
    nodes (unless given endpoints of its own)."""
    if {"kafka_bootstrap", "es_url"} & settings.model_fields_set:
        return settings
    from newsflow.stack.cluster import recorded_nodes, widen

    return widen(settings, recorded_nodes(settings))


@app.callback()
def main(
    ctx: typer.Context,
    kafka_bootstrap: Annotated[str | None, _opt("kafka_bootstrap", "Kafka bootstrap servers "
                                                "[default: 127.0.0.1:9092]")] = None,
    es_url: Annotated[str | None, _opt("es_url", "Elasticsearch URL "
                                       "[default: http://127.0.0.1:9200]")] = None,
    prefect_api_url: Annotated[str | None, _opt("prefect_api_url", "Prefect API URL "
                                                "[default: http://127.0.0.1:4200/api]")] = None,
    corenlp_url: Annotated[str | None, _opt("corenlp_url", "CoreNLP server for English NER "
                                            "[default: http://127.0.0.1:9000]")] = None,
    log_level: Annotated[str | None, _opt("log_level", "Log level [default: INFO]")] = None,
    topic_replication_factor: Annotated[int | None, _opt(
        "topic_replication_factor", "Replicas of each topic created "
        "[default: 0 = min(3, brokers)]", min=0)] = None,
    topic_min_insync_replicas: Annotated[int | None, _opt(
        "topic_min_insync_replicas", "Copies a write needs before it is acknowledged "
        "[default: 0 = 2 when a topic has 2+ replicas, else 1]", min=0)] = None,
    es_replicas: Annotated[int | None, _opt(
        "es_replicas", "Replicas of the news index and the dedup state "
        "[default: -1 = 1 on a cluster of 2+ nodes, else 0]", min=-1)] = None,
) -> None:
    """newsflow: news articles from Kafka, cleaned, deduplicated, enriched, searchable.

    Every setting can also be given as NEWSFLOW_<SETTING> in the environment or a .env file
    (see newsflow/config.py for all of them); each option below shows its variable.
    """
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, es_url=es_url,
                             prefect_api_url=prefect_api_url, corenlp_url=corenlp_url,
                             log_level=log_level,
                             topic_replication_factor=topic_replication_factor,
                             topic_min_insync_replicas=topic_min_insync_replicas,
                             es_replicas=es_replicas)
    settings = local_cluster(settings)
    configure_process(settings)
    ctx.obj = settings


# The commands, in the order `newsflow --help` lists them; the groups come after them.
app.command("worker")(workers.worker)
app.command("publish")(pipeline.publish)
app.command("search")(search.search)
app.command("story")(stories.story)
app.command("rollover")(pipeline.rollover)
app.command("audit")(ops.audit)
app.command("deploy")(pipeline.deploy)
app.command("backfill")(pipeline.backfill)
app.command("reindex")(pipeline.reindex)
app.command("reenrich")(pipeline.reenrich)
app.add_typer(stack.app, name="stack")
app.add_typer(workers.app, name="workers")
app.add_typer(ops.dlq_app, name="dlq")
app.add_typer(stories.app, name="stories")


def run() -> None:
    """The ``newsflow`` command: an error the user can fix (a service down, a topic missing)
    is one line and exit code 1, not a traceback; every other error keeps its traceback."""
    try:
        app(prog_name="newsflow")
    except Exception as error:
        message = explain(error)
        if message is None:
            raise
        raise SystemExit(fail(message).exit_code) from None


if __name__ == "__main__":
    run()
