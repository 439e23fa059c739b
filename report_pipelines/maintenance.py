"""Retention and health: the jobs that keep a long-running deployment tidy and honest."""

import datetime as dt
import os
import shutil
from dataclasses import asdict

import dagster as dg

from report_pipelines.health import run_health_checks
from report_pipelines.io_manager import RESULTS_TTL_HOURS
from report_pipelines.names import QUESTION_JOB, default_home
from report_pipelines.store.audit import AuditLog, audit_retention_days
from report_pipelines.store.definition_states import DefinitionStates

DEFAULT_RETENTION_DAYS = 30
# QUESTION_JOB's runs answer questions in report threads; its name cannot collide with a
# report's job (those all start with "report_").
MAINTENANCE_JOBS = ("retention", "health", "reload_report_definitions", QUESTION_JOB)


def retention_days() -> int:
    raw = os.environ.get("RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))
    try:
        days = int(raw)
    except ValueError:
        raise dg.Failure(description=f"RETENTION_DAYS={raw!r} must be a whole number of days") from None
    if days < 1:
        raise dg.Failure(description=f"RETENTION_DAYS={days} must be at least 1")
    return days


def is_ours(job_name: str) -> bool:
    return job_name.startswith("report_") or job_name in MAINTENANCE_JOBS


def prune_runs(instance: dg.DagsterInstance, cutoff: dt.datetime, batch: int = 200) -> list[str]:
    """Delete this product's runs created before ``cutoff``: run rows, event logs, compute logs
    and the per-run storage folder (Dagster's delete_run leaves the folder behind)."""
    deleted: list[str] = []
    storage = default_home() / "storage"
    while True:
        records = instance.get_run_records(dg.RunsFilter(created_before=cutoff), limit=batch)
        ours = [
            r for r in records
            if is_ours(r.dagster_run.job_name) and r.dagster_run.status in _FINISHED
        ]
        for record in ours:
            run_id = record.dagster_run.run_id
            instance.compute_log_manager.delete_logs(prefix=[run_id])
            instance.delete_run(run_id)
            shutil.rmtree(storage / run_id, ignore_errors=True)
            deleted.append(run_id)
        if len(records) < batch or not ours:
            return deleted


def purge_expired_results(ttl_hours: int, now: float | None = None) -> int:
    """Delete encrypted step results older than their time to live; returns how many folders."""
    import time

    limit = (now or time.time()) - ttl_hours * 3600
    removed = 0
    for folder in (default_home() / "storage").glob("*/report_results"):
        files = list(folder.glob("*.bin"))
        if all(path.stat().st_mtime < limit for path in files):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


_FINISHED = frozenset(
    {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
)


@dg.op(description="Delete runs older than RETENTION_DAYS with their logs and storage folders.")
def prune_old_runs(context: dg.OpExecutionContext) -> None:
    days = retention_days()
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    deleted = prune_runs(context.instance, cutoff)
    expired = purge_expired_results(RESULTS_TTL_HOURS)
    states = DefinitionStates().prune(cutoff)
    try:
        audit_days = audit_retention_days()
    except ValueError as err:
        raise dg.Failure(description=str(err)) from None
    audit_cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=audit_days)
    audit_deleted = AuditLog().prune(audit_cutoff)
    context.log.info(f"deleted {len(deleted)} runs created before {cutoff:%Y-%m-%d %H:%M} UTC and "
                     f"{audit_deleted} audit entries before {audit_cutoff:%Y-%m-%d}")
    context.add_output_metadata(
        {
            "retention_days": days,
            "cutoff": cutoff.isoformat(),
            "runs_deleted": len(deleted),
            "expired_result_folders": expired,
            "definition_states_deleted": states,
            "audit_retention_days": audit_days,
            "audit_entries_deleted": audit_deleted,
        }
    )


@dg.job(name="retention", description="Prune old report runs (RETENTION_DAYS, default 30).",
        tags={"report_pipelines/maintenance": "retention"}, executor_def=dg.in_process_executor)
def retention_job() -> None:
    prune_old_runs()


retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def record_health(context: dg.OpExecutionContext, warehouse, analyst) -> None:
    """Run every check, put each result in the step's metadata, fail when any is unhealthy."""
    results = run_health_checks(context.instance, warehouse=warehouse, analyst=analyst)
    context.add_output_metadata(
        {r.component: ("ok: " if r.ok else "UNHEALTHY: ") + r.detail for r in results}
    )
    failing = [r for r in results if not r.ok]
    if failing:
        raise dg.Failure(
            description="unhealthy: " + "; ".join(f"{r.component} ({r.detail})" for r in failing),
            metadata={"results": dg.MetadataValue.json([asdict(r) for r in results])},
        )


def build_health_job(resources: dict) -> dg.JobDefinition:
    @dg.op(
        name="check_components",
        description="Check the report store, Dagster storage, daemon, warehouse, Slack and Gemini.",
        required_resource_keys={"warehouse", "analyst"},
    )
    def check_components_op(context: dg.OpExecutionContext) -> None:
        record_health(context, context.resources.warehouse, context.resources.analyst)

    @dg.job(
        name="health",
        description="Health of every component a report needs; fails when one is unhealthy.",
        resource_defs={"warehouse": resources["warehouse"], "analyst": resources["analyst"]},
        tags={"report_pipelines/maintenance": "health"},
        executor_def=dg.in_process_executor,
    )
    def health_job() -> None:
        check_components_op()

    return health_job


def build_health_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="health_schedule",
        job=job,
        cron_schedule="*/15 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
