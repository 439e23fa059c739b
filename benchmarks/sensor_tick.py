"""One report_table_sensor tick over a large report table.

The tick is evaluated in-process with ``build_sensor_context``: the sensor's own cost (read the
table, fingerprint it, compare), which is what grows with the table. The daemon adds a gRPC round
trip to the code server on top, the same for any sensor.
"""

from __future__ import annotations

import time

from benchmarks.harness import Outcome, clean_environment, dagster_home, limit_row, median, run_worker

NAME = "sensor"
LIMIT_SECONDS = 0.5


def measure_tick(home: str, reports: int, repeats: int) -> dict:
    import dagster as dg
    import sqlalchemy as sa

    from benchmarks.fixtures import fill_store, use_home
    from report_pipelines.store import ReportStore
    from report_pipelines.store.reports import scheduled_reports
    from report_pipelines.sensors import build_report_table_sensor

    use_home(home)
    store = ReportStore()
    insert_seconds = fill_store(store, reports)

    rows = store.job_shaping_rows()
    sensor = build_report_table_sensor(rows)
    slugs = [row["slug"] for row in rows]
    changed, unchanged = [], []
    cursor = None
    with dg.DagsterInstance.get() as instance:
        for repeat in range(repeats):
            context = dg.build_sensor_context(instance=instance, cursor=cursor)
            began = time.perf_counter()
            data = sensor.evaluate_tick(context)
            unchanged.append(time.perf_counter() - began)
            if data.run_requests:
                raise RuntimeError("the sensor fired although the table matches the loaded rows")
            store.set_enabled(slugs[repeat], False)
            context = dg.build_sensor_context(instance=instance, cursor=cursor)
            began = time.perf_counter()
            data = sensor.evaluate_tick(context)
            changed.append(time.perf_counter() - began)
            if len(data.run_requests) != 1:
                raise RuntimeError(f"expected one reload request after a change, got {data}")
            cursor = data.cursor
            # Back to the loaded state, so the next unchanged tick matches and the next changed
            # tick differs by exactly one row.
            with store.engine.begin() as conn:
                conn.execute(sa.update(scheduled_reports).where(
                    scheduled_reports.c.slug == slugs[repeat]).values(enabled=True))
    return {
        "reports": len(rows), "insert_seconds": insert_seconds,
        "changed_seconds": changed, "unchanged_seconds": unchanged,
    }


def run(quick: bool) -> Outcome:
    reports = 10_000
    repeats = 3 if quick else 7
    outcome = Outcome(NAME)
    with dagster_home(NAME) as home:
        env = clean_environment(DAGSTER_HOME=str(home))
        result = run_worker(
            "benchmarks.sensor_tick:measure_tick",
            {"home": str(home), "reports": reports, "repeats": repeats}, env=env, timeout=300,
        )
    outcome.details = result
    outcome.rows.append(limit_row(
        "report_table_sensor tick", f"{result['reports']:,} rows, one changed",
        median(result["changed_seconds"]), "s", LIMIT_SECONDS, note="RunRequest for the reload job",
    ))
    outcome.rows.append(limit_row(
        "report_table_sensor tick", f"{result['reports']:,} rows, unchanged",
        median(result["unchanged_seconds"]), "s", LIMIT_SECONDS, note="SkipReason",
    ))
    return outcome
