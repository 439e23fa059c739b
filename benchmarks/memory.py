"""A one-million-row result: peak memory of query + analysis + message against the frame's own
size, and the Gemini prompt size as results grow.

Peak RSS is read in a fresh interpreter. Where Linux allows it (``/proc/self/clear_refs``), the
peak is reset before each stage so every stage's own high-water mark is known; the headline is
the whole pipeline's peak above the resident size once code is loaded.
"""

from __future__ import annotations

import re
import resource
import time
from pathlib import Path

from benchmarks.harness import Outcome, Row, clean_environment, limit_row, run_worker

NAME = "memory"
RSS_GOAL = 3.0
TOKEN_GOAL = 8_000
WINDOW_START = "2026-01-01"
WINDOW_END = "2026-02-01"
DETAIL_QUERY = """SELECT order_date, region, product, category, units, revenue
FROM sales
WHERE order_date >= @window_start_date AND order_date < @window_end_date"""


def make_warehouse(path: str, rows: int) -> dict:
    """A DuckDB file whose January 2026 holds ``rows`` order lines (a detail report's result)."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(path) as conn:
        conn.execute(
            f"""
            CREATE TABLE sales AS
            SELECT DATE '{WINDOW_START}' + CAST(i % 31 AS INTEGER) AS order_date,
                   ['North', 'South', 'East', 'West'][1 + i % 4] AS region,
                   'Product ' || CAST(i % 50 AS VARCHAR) AS product,
                   ['Home', 'Kitchen', 'Electronics', 'Outdoor'][1 + (i // 7) % 4] AS category,
                   CAST(1 + i % 17 AS INTEGER) AS units,
                   CAST(1 + (i % 10000) / 100.0 AS DECIMAL(12, 2)) AS revenue
            FROM range({rows}) AS t(i)
            """
        )
        conn.execute("CHECKPOINT")
    return {"seconds": time.perf_counter() - started}


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_pipeline(path: str, prompt_rows: list[int]) -> dict:
    import datetime as dt

    from report_pipelines.analysts.prompts import build_analysis_prompt
    from report_pipelines.analysts.statistical import analyze
    from report_pipelines.models import ReportWindow
    from report_pipelines.slack.blocks import ReportMessage, build_report_message
    from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse

    start = dt.datetime.fromisoformat(WINDOW_START).replace(tzinfo=dt.timezone.utc)
    end = dt.datetime.fromisoformat(WINDOW_END).replace(tzinfo=dt.timezone.utc)
    window = ReportWindow(partition_key=f"{WINDOW_START}-00:00", start=start, end=end, timezone="UTC")
    warehouse = SQLAlchemyWarehouse(url=f"duckdb:///{path}")

    def pipeline(sql: str):
        result = warehouse.run_query(sql, window)
        stages["query"] = stage_peak()
        analysis = analyze(result.frame, window=window, period="month", audience="analyst",
                           truncated=result.truncated, report_name="Order lines")
        stages["analysis"] = stage_peak()
        now = dt.datetime.now(dt.timezone.utc)
        blocks, text = build_report_message(ReportMessage(
            name="Order lines", description="Every order line of the month", window=window,
            run_time=now, frame=result.frame, total_rows=result.row_count,
            truncated=result.truncated, analysis=analysis, run_url="http://127.0.0.1:3000/runs/x",
            generated_at=now,
        ))
        stages["message"] = stage_peak()
        return result, analysis, blocks

    resettable = _reset_peak()

    def stage_peak() -> int:
        peak = _status_kib("VmHWM")
        if resettable:
            _reset_peak()
        return peak

    stages: dict[str, int] = {}
    # A small run first loads every module and driver the big one needs, so the baseline below
    # is code, not data.
    pipeline(DETAIL_QUERY + " LIMIT 100")
    baseline_kib = _status_kib("VmRSS")
    _reset_peak()
    stages.clear()
    began = time.perf_counter()
    result, analysis, blocks = pipeline(DETAIL_QUERY)
    seconds = time.perf_counter() - began
    frame = result.frame
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    peak_kib = max(stages.values()) if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    prompts = {}
    for count in prompt_rows:
        part = frame if count >= len(frame) else frame.iloc[:count]
        part_analysis = analysis if part is frame else analyze(
            part, window=window, period="month", audience="analyst", report_name="Order lines"
        )
        prompt = build_analysis_prompt(part, part_analysis, window=window, period="month",
                                       audience="analyst", report_name="Order lines")
        prompts[str(len(part))] = {
            "estimated_tokens": prompt.estimated_tokens, "sample_rows": prompt.sample_rows,
        }
    return {
        "rows": len(frame), "truncated": result.truncated, "frame_bytes": frame_bytes,
        "dtypes": {str(name): str(dtype) for name, dtype in frame.dtypes.items()},
        "baseline_rss_bytes": baseline_kib * 1024, "peak_rss_bytes": peak_kib * 1024,
        "stage_peak_rss_bytes": {name: kib * 1024 for name, kib in stages.items()},
        "per_stage_peaks": resettable, "seconds": seconds, "blocks": len(blocks),
        "prompts": prompts,
    }


def run(quick: bool) -> Outcome:
    rows = 100_000 if quick else 1_000_000
    prompt_rows = [1_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
    outcome = Outcome(NAME)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench_memory_") as folder:
        env = clean_environment(DAGSTER_HOME=folder)
        path = str(Path(folder) / "large.duckdb")
        made = run_worker(
            "benchmarks.memory:make_warehouse", {"path": path, "rows": rows}, env=env, timeout=300
        )
        result = run_worker(
            "benchmarks.memory:measure_pipeline", {"path": path, "prompt_rows": prompt_rows},
            env=env, timeout=600,
        )
    result["warehouse_build_seconds"] = made["seconds"]
    outcome.details = result
    mib = 1024 * 1024
    growth = result["peak_rss_bytes"] - result["baseline_rss_bytes"]
    ratio = growth / result["frame_bytes"]
    stages = ", ".join(
        f"{name} {(peak - result['baseline_rss_bytes']) / mib:,.0f}"
        for name, peak in result["stage_peak_rss_bytes"].items()
    )
    outcome.rows.append(Row(
        benchmark="1M-row result memory", case=f"{result['rows']:,} rows: peak RSS growth",
        ours=growth / mib, baseline=result["frame_bytes"] / mib, ratio=ratio, unit="MiB",
        goal=f"≤ {RSS_GOAL:g}×", met=ratio <= RSS_GOAL,
        note=f"baseline = frame.memory_usage(deep=True); growth by stage (MiB): {stages}",
    ))
    for count, prompt in result["prompts"].items():
        outcome.rows.append(limit_row(
            "Gemini prompt size", f"{int(count):,} rows", prompt["estimated_tokens"], "tokens",
            TOKEN_GOAL, note=f"{prompt['sample_rows']} sample rows",
        ))
    return outcome
