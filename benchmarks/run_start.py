"""Start-of-run overhead at N reports: from the launch of a run worker to its first op's STEP_START.

Dagster's own launch path, as a deployment launching a run without the daemon's queue takes it:
a real instance (temporary DAGSTER_HOME with the project's dagster.yaml, SQLite storage), the
code location served by a code server started from the instance's ``workspace.yaml``
(``WorkspaceProcessContext``, as ``dagster job launch`` and ``report-pipelines run`` do), and a
run of one report's job for one window created from that location and launched with the
instance's DefaultRunLauncher: the code server spawns the run worker, which loads the code
location itself, then executes the steps.

The clock starts just before ``instance.launch_run`` and stops at the timestamp of the
``query_warehouse`` STEP_START event the run worker wrote to the event log (both are wall-clock
times on this machine). Every run is a new process, so every repetition pays the same boot.

The run's execution-plan snapshot, stored once per run in the run storage, is measured too: it
carries whatever the run worker needs to rebuild the code location, so it must not grow with
the number of reports.
"""

from __future__ import annotations

import datetime as dt
import time

from benchmarks.harness import (
    BenchmarkError, Outcome, Row, clean_environment, dagster_home, median, ratio_row, run_worker,
)

NAME = "runstart"
GOAL = 1.3
SNAPSHOT_GOAL = 1.1
FIRST_STEP = "query_warehouse"
FIRST_WINDOW = dt.date(2026, 2, 1)
POLL_SECONDS = 0.05


def _stored_snapshot(instance, snapshot_id: str) -> dict:
    """Bytes of one snapshot as the run storage holds it (zlib-compressed) and serialized."""
    import zlib

    import sqlalchemy as sa
    from dagster._core.storage.runs.schema import SnapshotsTable

    with instance.run_storage.connect() as conn:
        body = conn.execute(
            sa.select(SnapshotsTable.c.snapshot_body).where(SnapshotsTable.c.snapshot_id == snapshot_id)
        ).scalar_one_or_none()
    if body is None:
        raise BenchmarkError(f"snapshot {snapshot_id} is not in the run storage")
    return {"stored_bytes": len(body), "serialized_bytes": len(zlib.decompress(body))}


def _events(instance, run_id: str) -> dict[str, float]:
    """Epoch timestamps of the run's start-up events (first of each)."""
    import dagster as dg

    marks: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.RUN_STARTING:
            marks.setdefault("starting", entry.timestamp)
        elif kind == dg.DagsterEventType.ENGINE_EVENT and (entry.message or "").startswith("Started process"):
            # Written by the run worker once it has booted (Dagster imported, instance opened).
            marks.setdefault("process", entry.timestamp)
        elif kind == dg.DagsterEventType.RUN_START:
            # The run worker has loaded the code location and built the job.
            marks.setdefault("run_start", entry.timestamp)
        elif kind == dg.DagsterEventType.STEP_START and entry.step_key == FIRST_STEP:
            marks.setdefault("step_start", entry.timestamp)
        elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
            marks.setdefault("end", entry.timestamp)
    return marks


def _failure(instance, run_id: str) -> str:
    """The run's first error message from its event log, for a BenchmarkError."""
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.is_failure and entry.message:
            return entry.message.splitlines()[0]
        if entry.error_info is not None:
            return entry.error_info.message.splitlines()[0]
    return "no error in the event log"


def _wait_for_step_start(instance, run_id: str, timeout: float) -> float:
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START):
            if entry.step_key == FIRST_STEP:
                return entry.timestamp
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            raise BenchmarkError(
                f"run {run_id} ended {run.status.value} before {FIRST_STEP} started: "
                f"{_failure(instance, run_id)}"
            )
        time.sleep(POLL_SECONDS)
    raise BenchmarkError(f"run {run_id}: no STEP_START of {FIRST_STEP} within {timeout:.0f} s")


def _wait_for_end(instance, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run.status.value
        time.sleep(0.2)
    raise BenchmarkError(f"run {run_id} did not finish within {timeout:.0f} s of its first step")


def measure_run_start(home: str, reports: int, repeats: int, timeout: float) -> dict:
    """Fill a store with ``reports`` reports, serve the code location, and launch ``repeats`` runs
    of the newest report's job one after the other, each for a window of its own."""
    import dagster as dg
    from dagster._cli.job import _create_run
    from dagster._core.errors import DagsterError
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from benchmarks.fixtures import build_warehouse, fill_store, partition_key, report_spec, use_home
    from report_pipelines.names import CODE_LOCATION, REPOSITORY_NAME, job_name, partition_tags
    from report_pipelines.store import ReportStore

    folder = use_home(home)
    build_warehouse(folder)
    fill_seconds = fill_store(ReportStore(), reports)
    # The newest report: the last one an eager load would build.
    index = reports - 1
    slug = report_spec(index).slug
    job = job_name(slug)
    runs: list[dict] = []
    with dg.DagsterInstance.get() as instance:
        if not isinstance(instance.run_launcher, DefaultRunLauncher):
            raise BenchmarkError(
                f"the instance's run launcher is {type(instance.run_launcher).__name__}, not "
                "DefaultRunLauncher: check report_pipelines/instance/dagster.yaml"
            )
        began = time.perf_counter()
        target = WorkspaceFileTarget(paths=[str(folder / "workspace.yaml")])
        with WorkspaceProcessContext(instance, target) as process:
            workspace = process.create_request_context()
            try:
                location = workspace.get_code_location(CODE_LOCATION)
            except DagsterError as err:
                raise BenchmarkError(f"the code location did not load with {reports} reports: {err}") from err
            repository = location.get_repository(REPOSITORY_NAME)
            location_seconds = time.perf_counter() - began
            if not repository.has_job(job):
                raise BenchmarkError(f"job {job} is not in the code location loaded with {reports} reports")
            served = {"jobs": len(repository.get_all_jobs()), "schedules": len(repository.get_schedules())}
            remote_job = repository.get_full_job(job)
            for repeat in range(repeats):
                key = partition_key(index, FIRST_WINDOW + dt.timedelta(days=repeat))
                created = time.perf_counter()
                run = _create_run(
                    instance=instance, code_location=location, remote_repo=repository,
                    remote_job=remote_job, run_config={}, tags=partition_tags(slug, key),
                    op_selection=None, run_id=None,
                )  # fmt: skip
                create_seconds = time.perf_counter() - created
                launched = time.time()
                instance.launch_run(run.run_id, workspace)
                returned = time.time()
                step_start = _wait_for_step_start(instance, run.run_id, timeout)
                status = _wait_for_end(instance, run.run_id, timeout)
                marks = _events(instance, run.run_id)
                runs.append({
                    "run_id": run.run_id, "partition": key, "status": status,
                    "seconds_to_step_start": step_start - launched,
                    "create_run_seconds": create_seconds,
                    "launch_call_seconds": returned - launched,
                    **{f"seconds_to_{name}": stamp - launched for name, stamp in marks.items()},
                    "plan_snapshot": _stored_snapshot(instance, run.execution_plan_snapshot_id),
                    "job_snapshot": _stored_snapshot(instance, run.job_snapshot_id),
                })
    return {
        "reports": reports, "served": served, "fill_seconds": fill_seconds,
        "location_load_seconds": location_seconds, "runs": runs,
    }


def run(quick: bool) -> Outcome:
    sizes = [10, 1000] if quick else [10, 1000, 10_000]
    repeats = 3 if quick else 5
    outcome = Outcome(NAME)
    medians: dict[int, float] = {}
    snapshots: dict[int, dict] = {}
    for size in sizes:
        # A fresh instance per size: each code server loads its own store, and no run history
        # from a smaller size is read back.
        with dagster_home(f"{NAME}_{size}") as home:
            env = clean_environment(DAGSTER_HOME=str(home))
            result = run_worker(
                "benchmarks.run_start:measure_run_start",
                {"home": str(home), "reports": size, "repeats": repeats, "timeout": 300},
                env=env, timeout=600 + 120 * repeats,
            )
        runs = result["runs"]
        outcome.details[f"N={size}"] = result
        medians[size] = median([r["seconds_to_step_start"] for r in runs])
        snapshots[size] = runs[0]["plan_snapshot"]
        succeeded = sum(1 for r in runs if r["status"] == "SUCCESS")

        def phase(first: str, last: str) -> str:
            values = [r[last] - r[first] for r in runs if first in r and last in r]
            return f"{median(values):.2f} s" if values else "-"

        outcome.rows.append(Row(
            benchmark="run start (launch → first STEP_START)", case=f"N={size:,}", ours=medians[size],
            unit="s", goal="info",
            note=(f"median of {repeats} runs; worker boot "
                  f"{phase('seconds_to_starting', 'seconds_to_process')}, then location load and job build "
                  f"in the worker "
                  f"{phase('seconds_to_process', 'seconds_to_run_start')} (to RUN_START), then "
                  f"{phase('seconds_to_run_start', 'seconds_to_step_start')} to the step; "
                  f"{succeeded}/{len(runs)} runs succeeded; "
                  f"code server served {result['served']['jobs']:,} jobs and "
                  f"{result['served']['schedules']:,} schedules after "
                  f"{result['location_load_seconds']:.1f} s"),
        ))
    smallest, largest = sizes[0], sizes[-1]
    outcome.rows.append(ratio_row(
        "run start (launch → first STEP_START)", f"N={largest:,} vs N={smallest:,}",
        medians[largest], medians[smallest], "s", GOAL,
        note="goal: flat, as a run worker builds only the job it runs",
    ))
    for size in sizes:
        outcome.rows.append(ratio_row(
            "run execution-plan snapshot", f"N={size:,} vs N={smallest:,}",
            snapshots[size]["serialized_bytes"], snapshots[smallest]["serialized_bytes"], "bytes",
            SNAPSHOT_GOAL,
            note=f"serialized; {snapshots[size]['stored_bytes']:,} bytes as stored (zlib)",
        ))
    return outcome
