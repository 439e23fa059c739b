"""The code location: one job and one schedule per report in the report store.

The report table is read once per code-location load (``fetch_state``); run workers rebuild the
same definitions from the state stored with the location, without querying the table again.
``StateBackedDefinitionsLoader`` is internal Dagster API: the pinned version and
``test_definitions.py`` guard it.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.definitions_load_context import StateBackedDefinitionsLoader

from report_pipelines.analysts import analyst_from_env
from report_pipelines.jobs import ReportShape, build_report_job, build_report_schedule
from report_pipelines.maintenance import (
    build_health_job,
    build_health_schedule,
    retention_job,
    retention_schedule,
)
from report_pipelines.io_manager import EncryptedResultsIOManager
from report_pipelines.resources import ReportStoreResource, SlackResource
from report_pipelines.store import ReportStore
from report_pipelines.sensors import (
    build_report_table_sensor,
    reload_report_definitions,
    report_failure_notifier,
)
from report_pipelines.warehouses import warehouse_from_env

STATE_KEY = "report_pipelines/scheduled_reports"


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


def build_definitions(rows: list[dict]) -> dg.Definitions:
    """The pure factory: report rows in, Definitions out."""
    resources = shared_resources()
    jobs = []
    schedules = []
    for row in rows:
        shape = ReportShape.from_row(row)
        job = build_report_job(shape, resources)
        jobs.append(job)
        schedules.append(build_report_schedule(shape, job))
    health_job = build_health_job(resources)
    return dg.Definitions(
        jobs=[*jobs, reload_report_definitions, retention_job, health_job],
        schedules=[*schedules, retention_schedule, build_health_schedule(health_job)],
        sensors=[build_report_table_sensor(rows), report_failure_notifier],
    )


class ReportDefinitionsLoader(StateBackedDefinitionsLoader[list]):
    @property
    def defs_key(self) -> str:
        return STATE_KEY

    def fetch_state(self) -> list:
        return ReportStore().job_shaping_rows()

    def defs_from_state(self, state: list) -> dg.Definitions:
        return build_definitions(state)


@dg.definitions
def defs() -> dg.Definitions:
    return ReportDefinitionsLoader().build_defs()
