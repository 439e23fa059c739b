"""The code location: names, partitions and schedules per report, loaded once per location load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)
from dagster._core.definitions.repository_definition.repository_definition import RepositoryLoadData

from report_pipelines import definitions as definitions_module
from report_pipelines.store import ReportStore

ROOT = Path(__file__).parents[1]


def load(load_type=DefinitionsLoadType.INITIALIZATION, metadata=None):
    data = (
        RepositoryLoadData(cacheable_asset_data={}, reconstruction_metadata=metadata or {})
        if metadata is not None
        else None
    )
    context = DefinitionsLoadContext(load_type=load_type, repository_load_data=data)
    with DefinitionsLoadContext.scoped(context):
        repo = definitions_module.defs()
        return repo, dict(context.get_pending_reconstruction_metadata())


def test_one_job_and_schedule_per_report(demo_store):
    repo, _ = load()
    assert sorted(job.name for job in repo.get_all_jobs()) == [
        "health",
        "reload_report_definitions",
        "report_daily_sales_report",
        "report_monthly_product_performance",
        "report_weekly_regional_revenue",
        "retention",
        "thread_question",
    ]
    schedules = {s.name: s for s in repo.schedule_defs}
    assert set(schedules) == {
        "health_schedule",
        "report_daily_sales_report_schedule",
        "report_monthly_product_performance_schedule",
        "report_weekly_regional_revenue_schedule",
        "retention_schedule",
    }
    assert {s.name for s in repo.sensor_defs} == {"report_table_sensor", "report_failure_notifier"}
    weekly = schedules["report_weekly_regional_revenue_schedule"]
    assert weekly.cron_schedule == "30 8 * * 1"
    assert weekly.execution_timezone == "Europe/London"
    assert weekly.default_status == dg.DefaultScheduleStatus.RUNNING

    job = repo.get_job("report_weekly_regional_revenue")
    assert sorted(node.name for node in job.graph.nodes) == [
        "analyze_results", "format_slack_message", "post_to_slack", "query_warehouse",
    ]
    keys = job.partitions_def.get_partition_keys()
    assert keys[0] == "2025-06-02-08:30"  # first Monday 08:30 on or after start_date 2025-06-01
    assert job.tags["report_pipelines/owner"] == "demo"
    assert job.tags["report_pipelines/report_id"] == str(demo_store.get("weekly_regional_revenue").id)


def test_disabled_report_schedule_is_stopped_by_default(demo_store):
    demo_store.set_enabled("daily_sales_report", False)
    repo, _ = load()
    schedule = repo.get_schedule_def("report_daily_sales_report_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_empty_store_loads_no_report_jobs(home):
    repo, _ = load()
    names = {job.name for job in repo.get_all_jobs()}
    assert names == {"health", "retention", "reload_report_definitions", "thread_question"}


def test_run_workers_rebuild_from_stored_state_without_querying(demo_store, monkeypatch):
    _, metadata = load()
    state_id = metadata[definitions_module.STATE_KEY]
    # Only an id travels with each run (and into its execution-plan snapshot), not the rows.
    assert len(state_id) == 64 and "daily_sales_report" not in state_id

    def unreachable(self, shard=None):
        raise AssertionError("the report table was queried during reconstruction")

    monkeypatch.setattr(ReportStore, "job_shaping_rows", unreachable)
    monkeypatch.setattr(definitions_module, "_LOADED", {})  # a fresh run-worker process
    repo, _ = load(DefinitionsLoadType.RECONSTRUCTION, metadata)
    assert repo.get_job("report_daily_sales_report").partitions_def is not None
    with pytest.raises(AssertionError, match="queried"):
        load()


def test_a_run_worker_builds_only_the_job_it_runs(demo_store, monkeypatch):
    _, metadata = load()
    jobs, schedules = [], []
    real_job, real_schedule = definitions_module.build_report_job, definitions_module.build_report_schedule
    monkeypatch.setattr(definitions_module, "build_report_job", lambda shape, res: jobs.append(shape.slug) or real_job(shape, res))
    monkeypatch.setattr(definitions_module, "build_report_schedule", lambda shape: schedules.append(shape.slug) or real_schedule(shape))
    monkeypatch.setattr(definitions_module, "_LOADED", {})  # a fresh run-worker process
    repo, _ = load(DefinitionsLoadType.RECONSTRUCTION, metadata)
    assert repo.get_job("report_weekly_regional_revenue").name == "report_weekly_regional_revenue"
    assert jobs == ["weekly_regional_revenue"] and schedules == []
    # Everything else is there for whoever asks (a code server snapshots it all).
    assert "report_daily_sales_report" in repo.job_names
    assert repo.get_schedule_def("report_daily_sales_report_schedule").cron_schedule == "0 9 * * *"
    assert schedules == ["daily_sales_report"]


def test_a_code_server_builds_the_location_once(demo_store, monkeypatch):
    # Dagster's code server initialises the location, then reconstructs it from the metadata.
    first, metadata = load()
    again, handed_on = load(DefinitionsLoadType.RECONSTRUCTION, metadata)
    assert again is first
    # The reconstructed location is what the code server serves: it must hand the state id on
    # to its run workers, or they would read the table and build every report.
    assert handed_on == metadata


def test_the_same_table_state_is_stored_once(demo_store):
    from report_pipelines.store.definition_states import DefinitionStates, definition_states

    first = load()[1][definitions_module.STATE_KEY]
    second = load()[1][definitions_module.STATE_KEY]
    assert first == second
    with DefinitionStates().db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(definition_states)).scalar() == 1
    demo_store.set_enabled("daily_sales_report", False)
    assert load()[1][definitions_module.STATE_KEY] != first


def test_dagster_definitions_validate_passes(demo_store):
    result = subprocess.run(
        [Path(sys.executable).parent / "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_pools_and_one_run_per_report(demo_store, tmp_path, monkeypatch):
    job = load()[0].get_job("report_daily_sales_report")
    pools = {node.definition.name: node.definition.pool for node in job.graph.nodes}
    assert pools == {
        "query_warehouse": "report_pipelines_warehouse",
        "analyze_results": "report_pipelines_analyst",
        "format_slack_message": None,
        "post_to_slack": "report_pipelines_slack",
    }
    home = tmp_path / "instance"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "report_pipelines" / "instance" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.tag_concurrency_limits == [
            {"key": "report_pipelines/report", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
        assert config.pool_config.default_pool_limit == 2
        assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure
        assert job.tags["report_pipelines/report"] == "daily_sales_report"
