"""The code location: one job and one schedule per report in the report store.

A code server loads it once per reload: it reads the report table, stores the rows as a
definition state (``store/definition_states.py``) and builds every report's job and schedule. A
row that cannot be built is left out and reported (the table sensor's tick, ``health``, ``reports
list``, the API), so one bad row never takes the other reports down.

A run worker gets only the id of that state (Dagster's reconstruction metadata, which is also
embedded in every run's execution-plan snapshot, so it must stay small), reads the rows back by
it and gets a repository of job *callables*: it builds the one job it runs, whatever the number
of reports. Dagster's lazy ``CachingRepositoryData`` does the caching.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.repository_definition import CachingRepositoryData

from report_pipelines.analysts import analyst_from_env
from report_pipelines.io_manager import EncryptedResultsIOManager
from report_pipelines.jobs import ReportShape, build_report_job, build_reports
from report_pipelines.maintenance import (
    build_health_job,
    build_health_schedule,
    retention_job,
    retention_schedule,
)
from report_pipelines.names import REPOSITORY_NAME, job_name
from report_pipelines.resources import ReportStoreResource, SlackResource
from report_pipelines.sensors import (
    build_report_table_sensor,
    reload_report_definitions,
    report_failure_notifier,
)
from report_pipelines.store import ReportStore
from report_pipelines.store.definition_states import DefinitionStates
from report_pipelines.warehouses import warehouse_from_env

STATE_KEY = "report_pipelines/definition_state"


def shared_resources() -> dict:
    """Resources every report job uses; URLs and keys come from the environment by name."""
    return {
        "report_store": ReportStoreResource(),
        "warehouse": warehouse_from_env(),
        "analyst": analyst_from_env(),
        "slack": SlackResource(),
        # One instance for every job: Dagster derives a config schema per resource instance.
        "io_manager": EncryptedResultsIOManager(),
    }


def _job_from_row(row: dict, resources: dict):
    # A named function, not a partial: Dagster's lazy index takes plain functions only.
    def load() -> dg.JobDefinition:
        return build_report_job(ReportShape.from_row(row), resources)

    return load


def build_repository(rows: list[dict], *, lazy: bool = False) -> dg.RepositoryDefinition:
    """Report rows in, the code location's repository out.

    ``lazy=False`` is what a code server loads: every report's job and schedule, the maintenance
    jobs and the sensors; rows that cannot be built are left out and handed to the table sensor.
    ``lazy=True`` is what a run worker loads: jobs only, each built when it is asked for.
    """
    if lazy:
        resources = shared_resources()
        jobs = {job_name(row["slug"]): _job_from_row(row, resources) for row in rows}
        return _repository({**jobs, **_maintenance_jobs(resources)}, {}, {})
    return _code_server_repository(rows)[0]


def _maintenance_jobs(resources: dict) -> dict:
    jobs = (reload_report_definitions, retention_job, build_health_job(resources))
    return {job.name: job for job in jobs}


def _code_server_repository(rows: list[dict]) -> tuple[dg.RepositoryDefinition, list[dict]]:
    """The full repository, and the rows it could build (the state run workers get)."""
    resources = shared_resources()
    built, broken = build_reports(rows, resources)
    maintenance = _maintenance_jobs(resources)
    jobs = {job.name: job for job, _ in built}
    schedules = {schedule.name: schedule for _, schedule in built}
    for schedule in (retention_schedule, build_health_schedule(maintenance["health"])):
        schedules[schedule.name] = schedule
    sensors = {
        sensor.name: sensor
        for sensor in (build_report_table_sensor(rows, broken), report_failure_notifier)
    }
    good_rows = [row for row in rows if str(row["slug"]) not in broken]
    return _repository({**jobs, **maintenance}, schedules, sensors), good_rows


def _repository(jobs: dict, schedules: dict, sensors: dict) -> dg.RepositoryDefinition:
    return dg.RepositoryDefinition(
        name=REPOSITORY_NAME,
        repository_data=CachingRepositoryData.from_dict(
            {"jobs": jobs, "schedules": schedules, "sensors": sensors}
        ),
    )


def load_repository() -> dg.RepositoryDefinition:
    """The rows this load works from: read from the table and saved as a state by a code server,
    read back by state id in a run worker."""
    context = DefinitionsLoadContext.get()
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION and STATE_KEY in context.reconstruction_metadata:
        state_id = context.reconstruction_metadata[STATE_KEY]
        rows = DefinitionStates().load(state_id) if state_id else []
        return build_repository(rows, lazy=True)
    repository, good_rows = _code_server_repository(ReportStore().job_shaping_rows())
    # Run workers get only the rows that built here. An empty table needs no stored state (and
    # the store may not exist yet).
    state_id = DefinitionStates().save(good_rows) if good_rows else ""
    context.add_to_pending_reconstruction_metadata(STATE_KEY, state_id)
    return repository


@dg.definitions
def defs() -> dg.RepositoryDefinition:
    return load_repository()
