"""One report run in-process, delivered to a local Slack, against a bare 4-op partitioned job run
the same way on the same instance."""

from __future__ import annotations

import datetime as dt
import time

from benchmarks.harness import Outcome, clean_environment, dagster_home, median, ratio_row, run_worker

NAME = "run"
GOAL = 1.5
FIRST_WINDOW = dt.date(2026, 3, 1)


def measure_runs(home: str, repeats: int) -> dict:
    import dagster as dg

    from benchmarks.bare import bare_job
    from benchmarks.fixtures import (
        START_DATE, Cadence, build_warehouse, connect_workspace, fake_slack, report_spec, use_home,
    )
    from report_pipelines.definitions import build_repository
    from report_pipelines.names import job_name
    from report_pipelines.store import ReportStore

    folder = use_home(home)
    build_warehouse(folder)
    store = ReportStore()
    store.create_tables()
    cadence = Cadence(hour=9, minute=0, timezone="UTC")
    report = store.add(report_spec(0, schedule=cadence))
    slack = fake_slack()
    try:
        connect_workspace(store, slack.url)
        ours = build_repository(store.job_shaping_rows()).get_job(job_name(report.slug))
        start = f"{START_DATE}-00:00"
        jobs = {
            "ours": ours,
            "bare": bare_job("bare_report", cadence.cron, cadence.timezone, start),
            "bare_pooled": bare_job("bare_pooled", cadence.cron, cadence.timezone, start, pooled=True),
        }
        # The delivery ledger posts each window once, so every run gets a window of its own.
        keys = iter(
            f"{FIRST_WINDOW + dt.timedelta(days=offset):%Y-%m-%d}-09:00" for offset in range(1000)
        )
        timings: dict[str, list[float]] = {side: [] for side in jobs}
        cold: dict[str, float] = {}
        with dg.DagsterInstance.get() as instance:

            def execute(side: str) -> float:
                began = time.perf_counter()
                result = jobs[side].execute_in_process(instance=instance, partition_key=next(keys))
                elapsed = time.perf_counter() - began
                if not result.success:
                    raise RuntimeError(f"the {side} run failed")
                return elapsed

            # The first run of each job in a process pays one-off costs (imports inside ops,
            # engines, the channel look-up); a run worker pays them too, but they are measured
            # separately so the comparison is run against run.
            for side in jobs:
                cold[side] = execute(side)
            sides = list(jobs)
            for repeat in range(repeats):
                # Rotate the order, so a slow moment on the machine does not always hit one side.
                shift = repeat % len(sides)
                for side in sides[shift:] + sides[:shift]:
                    timings[side].append(execute(side))
        posts = len(slack.posts)
    finally:
        slack.stop()
    return {"timings": timings, "cold": cold, "posts": posts, "expected_posts": repeats + 1}


def run(quick: bool) -> Outcome:
    repeats = 3 if quick else 9
    outcome = Outcome(NAME)
    with dagster_home(NAME) as home:
        env = clean_environment(DAGSTER_HOME=str(home))
        result = run_worker(
            "benchmarks.report_run:measure_runs", {"home": str(home), "repeats": repeats},
            env=env, timeout=600,
        )
    outcome.details = result
    warm = {side: median(values) for side, values in result["timings"].items()}
    posted = f"{result['posts']}/{result['expected_posts']} posted to the local Slack"
    outcome.rows.append(ratio_row(
        "report run in-process", "vs bare 4-op job", warm["ours"], warm["bare"], "s", GOAL,
        note=f"median of {repeats} warm runs; {posted}",
    ))
    outcome.rows.append(ratio_row(
        "report run in-process", "vs bare job, same op pools", warm["ours"], warm["bare_pooled"], "s",
        GOAL, note="isolates our op code from Dagster's pool-slot claims",
    ))
    outcome.rows.append(ratio_row(
        "report run in-process", "first run in process", result["cold"]["ours"], result["cold"]["bare"],
        "s", GOAL, note="includes one-off imports and look-ups",
    ))
    return outcome
