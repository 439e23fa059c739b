"""Code-location load: our definitions for N reports against bare Dagster building the same N
partitioned 4-op jobs and schedules.

Each timing is taken in a fresh interpreter with its imports already done, as a code server
loading the location would be: a warm process would hide per-process costs (lazy imports,
caches) on our side or Dagster's. Repetitions alternate sides so drift on the machine hits both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.harness import (
    Outcome, Row, clean_environment, dagster_home, median, ratio_row, run_worker,
)

NAME = "load"
GOAL = 1.15


def prepare_rows(home: str, sizes: list[int]) -> dict:
    """Fill a real report store up to each size in turn and save its job-shaping rows, plus the
    cron/timezone/start of every report for the bare-Dagster side."""
    from benchmarks.fixtures import START_DATE, cadence, report_spec, use_home
    from report_pipelines.store import ReportStore

    folder = use_home(home)
    store = ReportStore()
    store.create_tables()
    files = {}
    added = 0
    started = time.perf_counter()
    for size in sorted(sizes):
        while added < size:
            store.add(report_spec(added))
            added += 1
        rows = store.job_shaping_rows()
        shapes = [
            {"name": f"bare_{index:05d}", "cron": cadence(index).cron,
             "timezone": cadence(index).timezone, "start": f"{START_DATE}-00:00"}
            for index in range(size)
        ]
        rows_file = folder / f"rows_{size}.json"
        shapes_file = folder / f"shapes_{size}.json"
        rows_file.write_text(json.dumps(rows))
        shapes_file.write_text(json.dumps(shapes))
        files[str(size)] = {"rows": str(rows_file), "shapes": str(shapes_file)}
    return {"files": files, "fill_seconds": time.perf_counter() - started}


def _timed_load(import_factory, data_file: str) -> dict:
    """Import, then build and resolve Definitions from the JSON in ``data_file``, timing each part."""
    started = time.perf_counter()
    factory = import_factory()
    imported = time.perf_counter()
    data = json.loads(Path(data_file).read_text())
    begin = time.perf_counter()
    defs = factory(data)
    built = time.perf_counter()
    repository = defs.get_repository_def()
    resolved = time.perf_counter()
    return {
        "seconds": resolved - begin,
        "build_seconds": built - begin,
        "resolve_seconds": resolved - built,
        "import_seconds": imported - started,
        "jobs": len(repository.get_all_jobs()),
        "schedules": len(repository.schedule_defs),
    }


def _import_ours():
    from report_pipelines.definitions import build_definitions

    return build_definitions


def _import_bare():
    from benchmarks.bare import bare_definitions

    return bare_definitions


def time_ours(rows_file: str) -> dict:
    return _timed_load(_import_ours, rows_file)


def time_bare(shapes_file: str) -> dict:
    return _timed_load(_import_bare, shapes_file)


def run(quick: bool) -> Outcome:
    sizes = [10, 100] if quick else [10, 100, 1000]
    outcome = Outcome(NAME)
    with dagster_home(NAME) as home:
        env = clean_environment(DAGSTER_HOME=str(home))
        prepared = run_worker(
            "benchmarks.load:prepare_rows", {"home": str(home), "sizes": sizes}, env=env, timeout=600
        )
        outcome.details["store_fill_seconds"] = round(prepared["fill_seconds"], 2)
        for size in sizes:
            files = prepared["files"][str(size)]
            sides = {
                "ours": ("benchmarks.load:time_ours", {"rows_file": files["rows"]}),
                "bare": ("benchmarks.load:time_bare", {"shapes_file": files["shapes"]}),
            }
            results: dict[str, list[dict]] = {"ours": [], "bare": []}
            # Small loads are short and noisy, so they get more repetitions.
            repeats = 2 if quick else (5 if size < 1000 else 3)
            for repeat in range(repeats):
                # Alternate which side goes first, so a slow moment on the machine hits both.
                order = ("ours", "bare") if repeat % 2 == 0 else ("bare", "ours")
                for side in order:
                    target, params = sides[side]
                    results[side].append(run_worker(target, params, env=env, timeout=300))
            ours, bare = results["ours"], results["bare"]
            outcome.rows.append(ratio_row(
                "code-location load", f"N={size}",
                median([r["seconds"] for r in ours]), median([r["seconds"] for r in bare]), "s", GOAL,
                note=(f"median of {repeats} fresh processes; {ours[0]['jobs']} jobs and "
                      f"{ours[0]['schedules']} schedules (bare {bare[0]['jobs']} and {bare[0]['schedules']})"),
            ))
            outcome.details[f"N={size}"] = results
    # Not part of the goal, but a code server and every run worker pay it before loading.
    imports = {
        side: median([
            result["import_seconds"]
            for key, value in outcome.details.items() if key.startswith("N=")
            for result in value[side]
        ])
        for side in ("ours", "bare")
    }
    outcome.rows.append(Row(
        benchmark="code-location load", case="imports (per process)", ours=imports["ours"],
        baseline=imports["bare"], ratio=imports["ours"] / imports["bare"], unit="s",
        goal="info", note="import report_pipelines.definitions vs import dagster",
    ))
    return outcome
