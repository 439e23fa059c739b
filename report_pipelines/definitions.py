"""The code location: one job and one schedule per report in the report store.

A code server loads it once per reload: it reads the report table, stores the rows as a
definition state (``store/definition_states.py``) and builds every report's job and schedule. A
row that cannot be built is left out and reported (the table sensor's tick, ``health``, ``reports
list``, the API), so one bad row never takes the other reports down.

A run worker gets only the id of that state (Dagster's reconstruction metadata, which is also
embedded in every run's execution-plan snapshot, so it must stay small), reads the rows back by
it and gets a repository of job and schedule *callables* (``repository_data.py``): it builds the
one job it runs, whatever the number of reports.
"""

from __future__ import annotations

from functools import cache

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType

from report_pipelines.analysts import analyst_from_env
from report_pipelines.io_manager import EncryptedResultsIOManager
from report_pipelines.questions import build_question_job
from report_pipelines.jobs import ReportShape, build_report_job, build_report_schedule, build_reports
from report_pipelines.maintenance import (
    build_health_job,
    build_health_schedule,
    retention_job,
    retention_schedule,
)
from report_pipelines.names import REPOSITORY_NAME, current_shard, job_name, schedule_name
from report_pipelines.repository_data import LazyReportRepositoryData
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


def _loaders(row: dict, resources: dict):
    """A row's job and schedule as functions (Dagster's lazy index takes plain functions only)."""

    @cache
    def shape() -> ReportShape:  # parsed once, shared by the job and the schedule
        return ReportShape.from_row(row)

    def job() -> dg.JobDefinition:
        return build_report_job(shape(), resources)

    def schedule() -> dg.ScheduleDefinition:
        return build_report_schedule(shape())

    return job, schedule


def build_repository(rows: list[dict]) -> dg.RepositoryDefinition:
    """Report rows in, the code location's repository out, every report built now (what a code
    server loads); rows that cannot be built are left out and handed to the table sensor."""
    return _built_repository(rows)[0]


def _built_repository(rows: list[dict]) -> tuple[dg.RepositoryDefinition, dict[str, str]]:
    resources = shared_resources()
    built, broken = build_reports(rows, resources)
    jobs = {job.name: job for job, _ in built}
    schedules = {schedule.name: schedule for _, schedule in built}
    return _assemble(rows, broken, jobs, schedules, resources), broken


def lazy_repository(rows: list[dict], broken: dict[str, str]) -> dg.RepositoryDefinition:
    """The same repository from a stored state, each report's job and schedule built only when
    asked for: a run worker builds the one job it runs."""
    resources = shared_resources()
    jobs, schedules = {}, {}
    for row in rows:
        if str(row["slug"]) not in broken:
            jobs[job_name(row["slug"])], schedules[schedule_name(row["slug"])] = _loaders(row, resources)
    return _assemble(rows, broken, jobs, schedules, resources)


def _assemble(rows, broken, jobs, schedules, resources) -> dg.RepositoryDefinition:
    # Every location answers questions about its own reports (a question run goes where its report is).
    maintenance = [reload_report_definitions, build_question_job(resources)]
    other_schedules = []
    shard = current_shard()
    if shard is None or shard.index == 0:
        # Deployment-wide chores run in one location only, not once per shard.
        health_job = build_health_job(resources)
        maintenance += [retention_job, health_job]
        other_schedules += [retention_schedule, build_health_schedule(health_job)]
    return dg.RepositoryDefinition(
        name=REPOSITORY_NAME,
        repository_data=LazyReportRepositoryData(
            jobs={**jobs, **{job.name: job for job in maintenance}},
            report_schedules=schedules,
            other_schedules=other_schedules,
            sensors=[build_report_table_sensor(rows, broken), report_failure_notifier],
        ),
    )


# The repository this process built last, by state id. A code server loads the location twice
# (Dagster initialises it, then reconstructs it from the metadata it left): the second load
# finds the first one's repository here instead of building every report again.
_LOADED: dict[str, dg.RepositoryDefinition] = {}


def load_repository() -> dg.RepositoryDefinition:
    """A code server reads the table, builds every report and stores the state (rows and which
    of them cannot be built) under its id; a run worker reads the state back by that id."""
    context = DefinitionsLoadContext.get()
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION and STATE_KEY in context.reconstruction_metadata:
        state_id = context.reconstruction_metadata[STATE_KEY]
        # Handed on again: Dagster keeps only what this load registers, and the code server's
        # reconstructed location is the one whose metadata goes to its run workers.
        context.add_to_pending_reconstruction_metadata(STATE_KEY, state_id)
        if state_id in _LOADED:
            return _LOADED[state_id]
        state = DefinitionStates().load(state_id) if state_id else {"rows": [], "broken": {}}
        return lazy_repository(state["rows"], state["broken"])
    rows = ReportStore().job_shaping_rows(shard=current_shard())
    repository, broken = _built_repository(rows)
    # An empty table needs no stored state (and the store may not exist yet).
    state_id = DefinitionStates().save({"rows": rows, "broken": broken}) if rows else ""
    context.add_to_pending_reconstruction_metadata(STATE_KEY, state_id)
    _LOADED.clear()
    _LOADED[state_id] = repository
    return repository


@dg.definitions
def defs() -> dg.RepositoryDefinition:
    return load_repository()
