"""Code-location load: our repository for N reports against bare Dagster building the same N
partitioned 4-op jobs and schedules.

What a code server does with the report rows once it has read them: ``build_repository(rows)``,
then every job (``get_all_jobs()``, which a code server's snapshot asks for) and every schedule.
Bare Dagster does the same with ``Definitions(...).get_repository_def()``.

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
    """Fill a real report store with the largest size in one transaction, and save the job-shaping
    rows of the first N reports for each size (what the store holding only those would return),
    plus the cron/timezone/start of every report for the bare-Dagster side."""
    from benchmarks.fixtures import bare_shapes, fill_store, use_home
    from report_pipelines.store import ReportStore

    folder = use_home(home)
    store = ReportStore()
    fill_seconds = fill_store(store, max(sizes))
    began = time.perf_counter()
    rows = store.job_shaping_rows()
    read_seconds = time.perf_counter() - began
    shapes = bare_shapes(max(sizes))
    files = {}
    for size in sorted(sizes):
        rows_file = folder / f"rows_{size}.json"
        shapes_file = folder / f"shapes_{size}.json"
        rows_file.write_text(json.dumps(rows[:size]))
        shapes_file.write_text(json.dumps(shapes[:size]))
        files[str(size)] = {"rows": str(rows_file), "shapes": str(shapes_file)}
    return {"files": files, "fill_seconds": fill_seconds, "read_seconds": read_seconds}


def _timed_load(import_builder, data_file: str) -> dict:
    """Import, then build the repository from the JSON in ``data_file`` and resolve every job and
    schedule, timing each part."""
    started = time.perf_counter()
    build = import_builder()
    imported = time.perf_counter()
    data = json.loads(Path(data_file).read_text())
    begin = time.perf_counter()
    repository = build(data)
    built = time.perf_counter()
    jobs = repository.get_all_jobs()
    resolved = time.perf_counter()
    schedules = repository.schedule_defs
    done = time.perf_counter()
    return {
        "seconds": done - begin,
        "build_seconds": built - begin,
        "jobs_seconds": resolved - built,
        "schedules_seconds": done - resolved,
        "import_seconds": imported - started,
        "jobs": len(jobs),
        "schedules": len(schedules),
    }


def _import_ours():
    from report_pipelines.definitions import build_repository

    return build_repository


def _import_bare():
    from benchmarks.bare import bare_definitions

    return lambda shapes: bare_definitions(shapes).get_repository_def()


def time_ours(rows_file: str) -> dict:
    return _timed_load(_import_ours, rows_file)


def time_bare(shapes_file: str) -> dict:
    return _timed_load(_import_bare, shapes_file)


def run(quick: bool) -> Outcome:
    sizes = [10, 1000] if quick else [10, 1000, 10_000]
    outcome = Outcome(NAME)
    with dagster_home(NAME) as home:
        env = clean_environment(DAGSTER_HOME=str(home))
        prepared = run_worker(
            "benchmarks.load:prepare_rows", {"home": str(home), "sizes": sizes}, env=env, timeout=900
        )
        outcome.details["store_fill_seconds"] = round(prepared["fill_seconds"], 2)
        outcome.details["store_read_seconds"] = round(prepared["read_seconds"], 2)
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
                    results[side].append(run_worker(target, params, env=env, timeout=900))
            ours, bare = results["ours"], results["bare"]

            def parts(side: list[dict]) -> str:
                return "/".join(
                    f"{median([r[f'{part}_seconds'] for r in side]):.2f}"
                    for part in ("build", "jobs", "schedules")
                )

            outcome.rows.append(ratio_row(
                "code-location load", f"N={size:,}",
                median([r["seconds"] for r in ours]), median([r["seconds"] for r in bare]), "s", GOAL,
                note=(f"median of {repeats} fresh processes; {ours[0]['jobs']:,} jobs and "
                      f"{ours[0]['schedules']:,} schedules (bare {bare[0]['jobs']:,} and "
                      f"{bare[0]['schedules']:,}); build/jobs/schedules s: ours {parts(ours)}, "
                      f"bare {parts(bare)}"),
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
