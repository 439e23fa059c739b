"""``python -m benchmarks [--quick] [--only NAME ...]``: run the measurements, print the table and
write ``benchmarks/results.json``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    burst, burst10k, load, machine, memory, rate_limit, report_run, run_start, sensor_tick, ui_pages,
)
from benchmarks.harness import BenchmarkError, Outcome, Row

# Cheapest first, so a smoke run fails fast; the burst and the UI, which hold a server up, go last.
BENCHMARKS: dict[str, tuple[Callable[[bool], Outcome], str]] = {
    sensor_tick.NAME: (sensor_tick.run, "one report_table_sensor tick over a 10,000-report table"),
    report_run.NAME: (report_run.run, "one report run in-process vs a bare 4-op job"),
    memory.NAME: (memory.run, "peak RSS of a large result; Gemini prompt size by result size"),
    load.NAME: (load.run, "code-location load vs bare Dagster with the same jobs and schedules"),
    run_start.NAME: (run_start.run, "launch of a run worker to its first step, by number of reports"),
    rate_limit.NAME: (rate_limit.run, "posts into a channel limited to 1 message/s"),
    burst.NAME: (burst.run, "reports due at once, through dagster dev and its daemon"),
    burst10k.NAME: (burst10k.run, "1,000 of 10,000 reports due in one minute, on Celery workers, vs bare jobs"),
    ui_pages.NAME: (ui_pages.run, "the UI's jobs and automation pages over many reports, in chromium"),
}
RESULTS_FILE = Path(__file__).parent / "results.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure report_pipelines against bare Dagster on this machine.",
        epilog="benchmarks: " + "; ".join(f"{name}: {about}" for name, (_, about) in BENCHMARKS.items()),
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer repetitions (a smoke run)"
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_FILE, help="where to write the JSON results"
    )
    return parser.parse_args(argv)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "tokens":
        return f"{value:,.0f}"
    if unit == "bytes":
        return f"{value:,.0f} B"
    return f"{value:,.1f} {unit}"


def render_table(rows: list[Row]) -> str:
    header = ("benchmark", "case", "ours", "baseline", "ratio", "goal", "met", "note")
    lines = [
        (
            row.benchmark, row.case, format_value(row.ours, row.unit),
            format_value(row.baseline, row.unit), "-" if row.ratio is None else f"{row.ratio:.2f}×",
            row.goal, {True: "yes", False: "NO", None: "-"}[row.met], row.note,
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    # The note is last and unpadded: it is long and free text.
    widths[-1] = 0

    def join(cells) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()

    rule = join("-" * width for width in widths[:-1])
    return "\n".join([join(header), rule, *(join(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    host = machine.describe()
    print(f"machine: {machine.summary(host)}", flush=True)
    started = time.monotonic()
    load_before = machine.load_average()
    outcomes: list[Outcome] = []
    for name in names:
        run, about = BENCHMARKS[name]
        print(f"[{name}] {about} ...", flush=True)
        began = time.monotonic()
        try:
            outcome = run(args.quick)
        except (BenchmarkError, OSError, RuntimeError, ValueError) as err:
            outcome = Outcome(name, error=f"{type(err).__name__}: {err}")
            traceback.print_exc()
        outcome.seconds = time.monotonic() - began
        status = " (FAILED)" if outcome.error else ""
        print(f"[{name}] done in {outcome.seconds:.0f} s{status}", flush=True)
        outcomes.append(outcome)
    rows = [row for outcome in outcomes for row in outcome.rows]
    print()
    print(render_table(rows))
    for outcome in outcomes:
        if outcome.error:
            print(f"\n{outcome.name} could not be measured: {outcome.error.splitlines()[0]}")
    results = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks" + (" --quick" if args.quick else "")
        + "".join(f" --only {name}" for name in args.only or []),
        "quick": args.quick,
        "machine": {**host, "load_average_before": load_before, "load_average_after": machine.load_average()},
        "total_seconds": round(time.monotonic() - started, 1),
        "benchmarks": [outcome.to_json() for outcome in outcomes],
    }
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\n{len(rows)} figures in {results['total_seconds']:.0f} s; results written to {args.output}")
    return 1 if any(outcome.error for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
