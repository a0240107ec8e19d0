"""The deployments newsflow applies to the work pool: a stage worker per stage, the
supervisor, every operator flow, rollover on a schedule; each with the pipeline's settings in
its env, but no secret and nothing that differs per host."""

from __future__ import annotations

from pydantic import SecretStr

from flows.deploy import REPO, deployment_env, deployments, full_names
from flows.settings import FlowSettings
from workers.topology import STAGES


def test_every_stage_the_supervisor_and_every_operator_flow_is_deployed() -> None:
    names = full_names(FlowSettings(topic_prefix="t"))
    assert {names[s] for s in STAGES} == {f"stage-worker/t-{s}" for s in STAGES}
    assert names["supervisor"] == "supervisor/t-supervisor"
    assert {names[w] for w in ("backfill", "reindex", "reenrich", "replay-dlq", "publish",
                               "rollover")} == {
        "backfill/t-backfill", "reindex/t-reindex", "reenrich/t-reenrich",
        "replay-dlq/t-replay-dlq", "publish/t-publish", "rollover/t-rollover"}


def test_rollover_runs_on_its_schedule_and_nothing_else_does() -> None:
    settings = FlowSettings(topic_prefix="t", rollover_schedule="15 4 * * *")
    scheduled = {d.name: [s.schedule.cron for s in d.schedules]  # type: ignore[union-attr]
                 for d in deployments(settings) if d.schedules}
    assert scheduled == {"t-rollover": ["15 4 * * *"]}


def test_deployments_are_on_the_pool_with_the_code_from_the_repository() -> None:
    settings = FlowSettings(topic_prefix="t", work_pool="p")
    found = deployments(settings)
    assert {d.work_pool_name for d in found} == {"p"}
    assert {d.work_queue_name for d in found} == {"default"}  # stage runs are placed per run
    for d in found:
        assert d.storage is not None and d.storage.to_pull_step() == {
            "prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        path, function = d.entrypoint.split(":")  # type: ignore[union-attr]
        assert (REPO / path).is_file() and f"def {function}(" in (REPO / path).read_text()


def test_deployment_env_has_the_pipeline_names_but_no_secret_and_no_host_local_value() -> None:
    settings = FlowSettings(
        topic_prefix="t", group_prefix="g", es_alias="a", entities_enabled=False,
        es_username="elastic", es_password=SecretStr("es-secret"), kafka_username="clean",
        kafka_password=SecretStr("kafka-secret"), corenlp_url="http://10.0.0.7:9000",
        kafka_bootstrap="10.0.0.1:9092,10.0.0.2:9092", es_url="http://10.0.0.1:9200")
    env = deployment_env(settings)
    assert env["NEWSFLOW_TOPIC_PREFIX"] == "t" and env["NEWSFLOW_GROUP_PREFIX"] == "g"
    assert env["NEWSFLOW_ES_ALIAS"] == "a" and env["NEWSFLOW_ENTITIES_ENABLED"] == "False"
    assert env["NEWSFLOW_WORK_POOL"] == settings.work_pool
    for gone in ("ES_PASSWORD", "KAFKA_PASSWORD", "ES_USERNAME", "KAFKA_USERNAME",
                 "CORENLP_URL", "KAFKA_BOOTSTRAP", "ES_URL", "PREFECT_API_URL", "STACK_DIR",
                 "SHARED_DIR"):
        assert f"NEWSFLOW_{gone}" not in env
    assert not any("secret" in value for value in env.values())
    assert all(d.job_variables == {"env": env} for d in deployments(settings))
