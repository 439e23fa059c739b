"""Period-over-period deltas, anomalies, targets and the send conditions built on them, run as
real report jobs on DuckDB warehouses and checked against figures computed here independently."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import resources

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from report_pipelines.analysts.periods import WindowFigures, check_anomaly
from report_pipelines.analysts.types import Analysis, ColumnMetrics
from report_pipelines.cli import main
from report_pipelines.conditions import SendContext, evaluate_send_if
from report_pipelines.definitions import build_repository
from report_pipelines.models import ReportSpec, SendIf
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore
from report_pipelines.store.history import WindowHistory

WEEKLY_KEY = "2026-11-16-08:30"  # Monday 16 to Monday 23 November 2026, Europe/London


def demo_weekly() -> ReportSpec:
    text = (resources.files("report_pipelines") / "demo" / "reports" / "weekly_regional.yaml").read_text()
    return load_report_text(text)


def run_window(store, instance, slug: str, key: str, *, raise_on_error: bool = True):
    job = build_repository(store.job_shaping_rows()).get_job(f"report_{slug}")
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=raise_on_error)


def step_metadata(result, step: str) -> dict:
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_OUTPUT and event.step_key == step:
            return {key: value.value for key, value in event.event_specific_data.metadata.items()}
    raise AssertionError(f"no output of {step}")


def preview_text(result) -> str:
    return step_metadata(result, "post_to_slack")["preview"]


def revenue(conn, start: dt.date, end: dt.date) -> tuple[Decimal, int]:
    total, rows = conn.execute(
        "SELECT SUM(revenue), COUNT(*) FROM (SELECT order_date, region, SUM(revenue) AS revenue FROM sales "
        "WHERE order_date >= ? AND order_date < ? GROUP BY order_date, region)", [start, end],
    ).fetchone()
    return total, rows


def test_the_demo_weekly_report_shows_the_change_from_the_week_before(home, instance):
    store = ReportStore()
    spec = demo_weekly()
    assert spec.compare.previous, "the demo's weekly report is the README's worked example"
    store.add(spec)
    result = run_window(store, instance, "weekly_regional_revenue", WEEKLY_KEY)
    assert result.success

    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        now, now_rows = revenue(conn, dt.date(2026, 11, 16), dt.date(2026, 11, 23))
        before, before_rows = revenue(conn, dt.date(2026, 11, 9), dt.date(2026, 11, 16))
    change = now - before
    percent = change / before * 100
    arrow = "▲" if change > 0 else "▼"
    sign = "+" if change > 0 else ""
    expected = f"revenue total: {now:,} vs {before:,}, {arrow} {sign}{change:,} ({percent:+,.1f}%)"
    assert expected in preview_text(result)
    assert "Compared with the previous week (2026-11-09 08:30 → 2026-11-16 08:30 Europe/London)" in preview_text(result)

    compared = step_metadata(result, "query_warehouse")["compare_previous"]
    assert compared["partition_key"] == "2026-11-09-08:30" and compared["rows"] == before_rows
    total = next(d for d in compared["deltas"] if d["metric"] == "revenue" and d["stat"] == "total")
    assert Decimal(total["current"]) == now and Decimal(total["earlier"]) == before
    assert Decimal(total["change"]) == change and total["direction"] == ("up" if change > 0 else "down")
    assert abs(Decimal(total["change_pct"]) - percent) < Decimal("1e-20")
    rows = next(d for d in compared["deltas"] if d["metric"] == "rows")
    assert (rows["current"], rows["earlier"]) == (now_rows, before_rows)
    # Both windows' figures are kept for later comparisons and anomaly checks.
    report = store.get("weekly_regional_revenue")
    kept = WindowHistory().get(report.id, [WEEKLY_KEY, "2026-11-09-08:30"])
    assert WindowFigures.from_json(kept["2026-11-09-08:30"].figures).value("revenue", "total") == before


def test_year_ago_and_an_empty_earlier_window_say_no_data(home, instance):
    store = ReportStore()
    spec = demo_weekly().model_copy(update={
        "name": "Early Weeks", "compare": demo_weekly().compare.model_copy(update={"year_ago": True}),
        "schedule": demo_weekly().schedule.model_copy(update={"start_date": dt.date(2024, 1, 1)}),
    })  # fmt: skip
    store.add(ReportSpec.model_validate(spec.model_dump()))
    # 2025-01-06: a year earlier (2024-01-06 → 2024-01-13) has data; 2024-01-01's a year earlier has none.
    result = run_window(store, instance, "early_weeks", "2025-01-06-08:30")
    assert result.success
    year_ago = step_metadata(result, "query_warehouse")["compare_year_ago"]
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        before, _ = revenue(conn, dt.date(2024, 1, 6), dt.date(2024, 1, 13))
    total = next(d for d in year_ago["deltas"] if d["metric"] == "revenue" and d["stat"] == "total")
    assert Decimal(total["earlier"]) == before
    assert "Compared with the same week a year earlier (2024-01-06 08:30 → 2024-01-13 08:30 Europe/London)" in preview_text(result)

    first = run_window(store, instance, "early_weeks", "2024-01-08-08:30")
    assert first.success
    text = preview_text(first)
    assert "Compared with the same week a year earlier (2023-01-08 08:30 → 2023-01-15 08:30 Europe/London): no data" in text
    empty = step_metadata(first, "query_warehouse")["compare_year_ago"]
    assert empty["rows"] == 0
    assert {d["direction"] for d in empty["deltas"] if d["metric"] != "rows"} == {"no data"}


@pytest.fixture
def events(home, monkeypatch):
    """A warehouse of one measurement per day; the test sets the values."""
    path = home / "events.duckdb"

    def fill(values: dict[dt.date, int]) -> None:
        with duckdb.connect(str(path)) as conn:
            conn.execute("CREATE OR REPLACE TABLE events (day DATE, amount INTEGER)")
            conn.executemany("INSERT INTO events VALUES (?, ?)", [[day, amount] for day, amount in values.items()])

    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{path}")
    return fill


DAY_ONE = dt.date(2026, 11, 1)


def daily(**fields) -> ReportSpec:
    return ReportSpec.model_validate({
        "name": "Daily Events", "user_id": "alice", "slack_config": {"notification_type": "channel", "slack_channel": "#events"},
        "query": "SELECT day, SUM(amount) AS amount FROM events "
                 "WHERE day >= @window_start_date AND day < @window_end_date GROUP BY day",
        "schedule": {"frequency": "daily", "time": "00:00", "timezone": "UTC", "start_date": "2026-11-01"},
        **fields,
    })  # fmt: skip


def key_of(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}-00:00"


def test_an_outlier_is_flagged_against_history_filled_from_earlier_windows(home, instance, events):
    steady = [100, 104, 97, 101, 99, 103, 98, 100]
    values = {DAY_ONE + dt.timedelta(days=i): amount for i, amount in enumerate(steady)}
    spike_day = DAY_ONE + dt.timedelta(days=len(steady))
    values[spike_day] = 180
    values[spike_day + dt.timedelta(days=1)] = 102
    events(values)
    store = ReportStore()
    store.add(daily(anomaly={"metric": "amount", "windows": 8, "threshold": 3},
                    targets=[{"metric": "amount", "value": 200}]))
    report = store.get("daily_events")
    assert WindowHistory().get(report.id, [key_of(day) for day in values]) == {}

    spike = run_window(store, instance, "daily_events", key_of(spike_day))
    assert spike.success
    check = step_metadata(spike, "query_warehouse")["anomaly"]
    # The rule by hand: median 100, MAD 1.5 (deviations 0 0 1 1 2 3 3 4), range 100 ± 3 × 1.4826 × 1.5.
    assert check["flagged"] is True and Decimal(check["median"]) == 100 and Decimal(check["mad"]) == Decimal("1.5")
    assert Decimal(check["high"]) == Decimal(100) + 3 * Decimal("1.4826") * Decimal("1.5")
    text = preview_text(spike)
    assert "⚠️ Anomaly: amount total 180 is above the usual range" in text
    assert "Target: amount total 180 is 90% of 200" in text
    # The eight earlier windows were queried once and kept.
    kept = WindowHistory().get(report.id, [key_of(day) for day in values])
    assert len(kept) == 9

    normal = run_window(store, instance, "daily_events", key_of(spike_day + dt.timedelta(days=1)))
    check = step_metadata(normal, "query_warehouse")["anomaly"]
    assert check["flagged"] is False and "No anomaly: amount total 102 is within the usual range" in preview_text(normal)

    # Kept figures describe the query that produced them: a new query starts a new history.
    store.update("daily_events", daily(query="SELECT SUM(amount) * 2 AS amount FROM events "
                                             "WHERE day >= @window_start_date AND day < @window_end_date",
                                       anomaly={"metric": "amount"}))
    assert WindowHistory().get(report.id, [key_of(day) for day in values]) == {}
    run_window(store, instance, "daily_events", key_of(spike_day))
    assert len(WindowHistory().get(report.id, [key_of(day) for day in values])) == 9
    store.delete("daily_events")
    assert WindowHistory().get(report.id, [key_of(day) for day in values]) == {}


def test_send_if_anomaly_sends_only_flagged_windows(home, instance, events):
    values = {DAY_ONE + dt.timedelta(days=i): 50 + (i % 3) for i in range(10)}
    values[DAY_ONE + dt.timedelta(days=10)] = 5
    events(values)
    store = ReportStore()
    store.add(daily(anomaly={"metric": "amount", "windows": 5}, send_if={"anomaly": True}))
    quiet = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=9)))
    assert instance.get_run_by_id(quiet.run_id).tags["report_pipelines/delivery"] == "skipped"
    assert "anomaly: total of amount is inside the range" in step_metadata(quiet, "post_to_slack")["detail"]
    drop = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=10)))
    assert instance.get_run_by_id(drop.run_id).tags["report_pipelines/delivery"] == "preview"


def test_changed_true_sends_nothing_for_an_unchanged_result(home, instance, events):
    events({DAY_ONE + dt.timedelta(days=i): amount for i, amount in enumerate([7, 7, 7, 9])})
    store = ReportStore()
    # The result does not show the day, so equal amounts are equal results.
    store.add(daily(query="SELECT SUM(amount) AS amount FROM events WHERE day >= @window_start_date "
                          "AND day < @window_end_date", send_if={"changed": True}))
    deliveries = []
    for day in range(4):
        result = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=day)))
        deliveries.append(instance.get_run_by_id(result.run_id).tags["report_pipelines/delivery"])
    assert deliveries == ["preview", "skipped", "skipped", "preview"]
    skipped = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=1)))
    assert "identical to the last delivered window's (2026-11-01-00:00)" in step_metadata(skipped, "post_to_slack")["detail"]


def test_a_percent_rule_with_min_abs_ignores_a_tiny_baseline(home, instance, events):
    events({DAY_ONE: 2, DAY_ONE + dt.timedelta(days=1): 3, DAY_ONE + dt.timedelta(days=2): 30})
    store = ReportStore()
    store.add(daily(send_if={"metric": "amount", "change": "pct", "op": ">=", "value": 20, "min_abs": 5}))
    tiny = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=1)))
    detail = step_metadata(tiny, "post_to_slack")["detail"]
    assert instance.get_run_by_id(tiny.run_id).tags["report_pipelines/delivery"] == "skipped"
    assert "from 2 to 3 = +50.0% (+1) >= 20, |change| 1 < min_abs 5 is False: nothing sent" in detail
    big = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=2)))
    assert instance.get_run_by_id(big.run_id).tags["report_pipelines/delivery"] == "preview"


def test_stale_data_fails_the_run_loudly(home, instance, events):
    events({DAY_ONE: 1, DAY_ONE + dt.timedelta(days=1): 2})
    store = ReportStore()
    store.add(daily(query="SELECT day, amount FROM events WHERE day < @window_end_date",
                    send_if={"fresh": {"column": "day", "within": "1d"}}))
    fresh = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=1)))
    assert fresh.success and "newest day 24.0 h before the window's end" in step_metadata(fresh, "query_warehouse")["freshness"]
    stale = run_window(store, instance, "daily_events", key_of(DAY_ONE + dt.timedelta(days=4)), raise_on_error=False)
    assert not stale.success
    failure = next(e for e in stale.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    message = failure.event_specific_data.user_failure_data.description
    assert "stale data, nothing sent" in message and "the newest day is 2026-11-02 00:00 UTC, 96.0 h before the window's end; send_if.fresh allows 24.0 h" in message
    assert not (home / "previews" / "daily_events").exists() or not list((home / "previews" / "daily_events").glob("2026-11-05*"))


def analysis_with(total, rows=3) -> Analysis:
    return Analysis(analyst="statistical", row_count=rows, truncated=False, summary="s",
                    metrics=[ColumnMetrics("orders", rows, total, None, 0, 0)])


def previous(total) -> SendContext:
    return SendContext(previous=WindowFigures(3, {"orders": {"total": total, "average": None, "min": 0, "max": 0,
                                                             "count": 3}}), previous_key="2026-11-01-00:00")


@pytest.mark.parametrize(
    ("send_if", "now", "before", "send"),
    [
        ({"metric": "orders", "change": "pct", "op": ">=", "value": 10, "min_abs": 5}, 3, 2, False),
        ({"metric": "orders", "change": "pct", "op": ">=", "value": 10, "min_abs": 1}, 3, 2, True),
        ({"metric": "orders", "change": "pct", "op": "<=", "value": -10, "min_abs": 5}, 80, 100, True),
        ({"metric": "orders", "change": "pct", "op": "<=", "value": -10, "min_abs": 5}, 95, 100, False),
        ({"metric": "orders", "change": "abs", "op": ">", "value": 9}, 110, 100, True),
        ({"metric": "orders", "change": "abs", "op": ">", "value": 10}, 110, 100, False),
        ({"metric": "orders", "change": "pct", "op": ">", "value": 0, "min_abs": 0}, 5, 0, False),  # from 0: undefined
        ({"any": [{"min_rows": 10}, {"metric": "orders", "op": ">", "value": 4}]}, 5, 0, True),
        ({"all": [{"min_rows": 10}, {"metric": "orders", "op": ">", "value": 4}]}, 5, 0, False),
        ({"min_rows": 1, "any": [{"metric": "orders", "op": "<", "value": 1}, {"metric": "orders", "change": "abs", "op": "!=", "value": 0}]}, 5, 4, True),
    ],
)
def test_change_rules_and_combinations(send_if, now, before, send):
    met, reason = evaluate_send_if(SendIf.model_validate(send_if), analysis_with(now), previous(before))
    assert met is send, reason


def test_anomaly_rule_boundaries():
    history = [WindowFigures(1, {"x": {"total": value}}) for value in (10, 12, 8, 10, 11, 9)]
    # median 10, MAD 1: the range is 10 ± 2 × 1.4826 = [7.0348, 12.9652]
    inside = check_anomaly(WindowFigures(1, {"x": {"total": Decimal("12.96")}}), history, metric="x", stat="total",
                           windows=6, threshold=2)
    outside = check_anomaly(WindowFigures(1, {"x": {"total": Decimal("12.97")}}), history, metric="x", stat="total",
                            windows=6, threshold=2)
    assert (inside.flagged, outside.flagged) == (False, True)
    short = check_anomaly(WindowFigures(1, {"x": {"total": 99}}), history[:2], metric="x", stat="total", windows=8, threshold=3)
    assert not short.flagged and "not enough history: 2 of the last 8 windows" in short.reason


def test_preview_shows_the_comparison_and_the_decision(home, events):
    events({DAY_ONE: 10, DAY_ONE + dt.timedelta(days=1): 15})
    ReportStore().add(daily(compare={"previous": True}, targets=[{"metric": "amount", "value": 60}],
                            send_if={"metric": "amount", "change": "abs", "op": ">", "value": 100}))
    result = CliRunner().invoke(main, ["preview", "daily_events", "--partition", key_of(DAY_ONE + dt.timedelta(days=1)), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    text = json.dumps(shown["blocks"], ensure_ascii=False)
    assert "amount total: 15 vs 10, ▲ +5 (+50.0%)" in text and "Target: amount total 15 is 25% of 60" in text
    assert "change in total of amount from 10 to 15 = +5 > 100 is False: nothing sent" in shown["send_if"]
