"""A window against other windows: period-over-period changes, anomalies, targets, freshness.

Pure maths over exact figures; no I/O and no Dagster import. The pipeline queries the earlier
windows and keeps their figures in the store (``store/history.py``); this module only compares.

The anomaly rule (documented in the README): take ``stat`` of ``metric`` in each of the last
``windows`` windows before this one, their median ``m`` and median absolute deviation
``MAD = median(|x - m|)``. This window is flagged when its value lies outside
``m ± threshold × 1.4826 × MAD``. 1.4826 scales the MAD to a standard deviation for normal data,
so ``threshold: 3`` reads like "three sigma", while one extreme past window cannot widen the
range the way it widens a standard deviation. With fewer than three past values nothing is
flagged ("not enough history"); when the past values are all equal (MAD 0) any other value is
flagged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from report_pipelines.analysts.profile import profile_columns
from report_pipelines.analysts.types import (
    AnomalyCheck,
    ColumnMetrics,
    Comparison,
    Delta,
    Number,
    TargetProgress,
    as_decimal,
)
from report_pipelines.models import PARTITION_FORMAT, ReportWindow

STATS = ("total", "average", "min", "max", "count")
ROWS = "rows"
MAD_SCALE = Decimal("1.4826")
MIN_HISTORY = 3
LABELS = {"previous": "the previous {period}", "year_ago": "the same {period} a year earlier"}


class UnknownMetric(ValueError):
    """A rule names a column that is not a numeric column of the result."""


@dataclass(frozen=True)
class WindowFigures:
    """The key metrics of one window: its row count and each numeric column's five stats."""

    rows: int
    stats: dict[str, dict[str, Number | None]]

    def value(self, metric: str, stat: str) -> Number | None:
        """``stat`` of column ``metric``; ``metric`` "rows" is the row count."""
        if metric == ROWS and metric not in self.stats:
            return self.rows
        if metric not in self.stats:
            numeric = ", ".join(self.stats) or "none"
            raise UnknownMetric(f"{metric!r} is not a numeric column of the result (numeric columns: {numeric})")
        return self.stats[metric][stat]

    def to_json(self) -> str:
        return json.dumps({"rows": self.rows, "stats": {
            column: {stat: _to_text(value) for stat, value in stats.items()} for column, stats in self.stats.items()
        }}, sort_keys=True)  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> WindowFigures:
        data = json.loads(text)
        return cls(int(data["rows"]), {
            column: {stat: _from_text(value) for stat, value in stats.items()} for column, stats in data["stats"].items()
        })  # fmt: skip


def figures_of(metrics: list[ColumnMetrics], rows: int) -> WindowFigures:
    return WindowFigures(rows, {
        str(metric.column): {
            "total": metric.total, "average": metric.average, "min": metric.minimum,
            "max": metric.maximum, "count": metric.count,
        }
        for metric in metrics
    })  # fmt: skip


def figures_of_frame(frame: pd.DataFrame) -> WindowFigures:
    numeric, _, _, _ = profile_columns(frame)
    return figures_of([column.metrics() for column in numeric], len(frame))


def result_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of the result's columns and rows: equal results, equal fingerprints."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(column) for column in frame.columns]).encode())
    digest.update(frame.to_csv(index=False, header=False).encode())
    return digest.hexdigest()


def local_key(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime(PARTITION_FORMAT)


def earlier_window(window: ReportWindow, cron: str, against: str) -> ReportWindow:
    """The window before ``window`` on the schedule, or the same window one year earlier."""
    from report_pipelines.schedules import previous_tick

    zone = ZoneInfo(window.timezone)
    if against == "previous":
        start, end = previous_tick(cron, window.timezone, window.start), window.start
    elif against == "year_ago":
        start, end = (_year_earlier(moment.astimezone(zone)) for moment in (window.start, window.end))
    else:
        raise ValueError(f"unknown comparison {against!r}")
    return ReportWindow(
        partition_key=local_key(start, window.timezone), start=start, end=end, timezone=window.timezone
    )


def windows_before(window: ReportWindow, cron: str, count: int) -> list[ReportWindow]:
    """The ``count`` windows before ``window``, newest first."""
    windows = []
    current = window
    for _ in range(count):
        current = earlier_window(current, cron, "previous")
        windows.append(current)
    return windows


def _year_earlier(moment: dt.datetime) -> dt.datetime:
    day = moment.day
    if moment.month == 2 and day == 29:
        day = 28
    naive = moment.replace(tzinfo=None).replace(year=moment.year - 1, day=day)
    return naive.replace(tzinfo=moment.tzinfo)


def compare(current: WindowFigures, earlier: WindowFigures, *, against: str, period: str,
            window: ReportWindow) -> Comparison:
    """Each key metric now against ``earlier``: rows, then each column's total, average, min, max."""
    deltas = [Delta(ROWS, "count", current.rows, earlier.rows)]
    for column, stats in current.stats.items():
        before = earlier.stats.get(column, {})
        for stat in ("total", "average", "min", "max"):
            deltas.append(Delta(column, stat, stats.get(stat), before.get(stat) if earlier.rows else None))
    return Comparison(
        against=against, label=LABELS[against].format(period=period), window=window.describe(),
        partition_key=window.partition_key, rows=earlier.rows, deltas=tuple(deltas),
    )  # fmt: skip


def check_anomaly(current: WindowFigures, history: list[WindowFigures], *, metric: str, stat: str,
                  windows: int, threshold: float) -> AnomalyCheck:
    """``current`` against the robust range of ``history`` (the rule is in the module docstring)."""
    value = current.value(metric, stat)
    past = []
    for figures in history:
        try:
            earlier = figures.value(metric, stat)
        except UnknownMetric:
            earlier = None
        if earlier is not None and _finite(earlier):
            past.append(as_decimal(earlier))
    base = dict(metric=metric, stat=stat, value=value, windows=windows, history=len(past))
    if value is None or not _finite(value):
        return AnomalyCheck(**base, reason=f"{stat} of {metric} has no value in this window")
    if len(past) < MIN_HISTORY:
        return AnomalyCheck(
            **base, reason=f"not enough history: {len(past)} of the last {windows} windows have a value "
            f"(at least {MIN_HISTORY} needed)"
        )  # fmt: skip
    middle = Decimal(median(past))
    mad = Decimal(median([abs(item - middle) for item in past]))
    spread = Decimal(str(threshold)) * MAD_SCALE * mad
    low, high = middle - spread, middle + spread
    current_value = as_decimal(value)
    flagged = current_value < low or current_value > high
    side = "above" if current_value > high else "below" if current_value < low else "inside"
    return AnomalyCheck(
        **base, median=middle, mad=mad, low=low, high=high, flagged=flagged,
        reason=f"{stat} of {metric} is {side} the range of the last {len(past)} windows",
    )  # fmt: skip


def progress(current: WindowFigures, metric: str, stat: str, target: float) -> TargetProgress:
    return TargetProgress(metric=metric, stat=stat, value=current.value(metric, stat), target=Decimal(str(target)))


def freshness(frame: pd.DataFrame, column: str, within_seconds: float, window: ReportWindow) -> tuple[bool, str]:
    """Is the newest ``column`` value within ``within_seconds`` of the window's end?

    Timestamps without a zone are read as UTC (how warehouses usually store them); a date
    counts from its midnight in the report's timezone. Measuring from the window's end, not
    from now, makes a backfilled window judge its own data.
    """
    names = [str(name) for name in frame.columns]
    if column not in names:
        raise UnknownMetric(f"send_if.fresh.column {column!r} is not a column of the result (columns: {', '.join(names) or 'none'})")
    newest = _newest(frame.iloc[:, names.index(column)], window.timezone)
    if newest is None:
        return False, f"{column} has no values in this window, so the data cannot be shown to be fresh"
    age = (window.end - newest).total_seconds()
    hours = age / 3600
    if age > within_seconds:
        return False, (
            f"the newest {column} is {newest.astimezone(ZoneInfo(window.timezone)):%Y-%m-%d %H:%M %Z}, "
            f"{hours:,.1f} h before the window's end; send_if.fresh allows {within_seconds / 3600:,.1f} h"
        )
    return True, f"newest {column} {hours:,.1f} h before the window's end (allowed {within_seconds / 3600:,.1f} h)"


def _newest(series: pd.Series, timezone: str) -> dt.datetime | None:
    newest = None
    for value in series.dropna().tolist():
        moment = _moment(value, timezone)
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    return newest


def _moment(value: Any, timezone: str) -> dt.datetime | None:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=ZoneInfo(timezone))
    if isinstance(value, str):
        try:
            return _moment(pd.Timestamp(value), timezone)
        except ValueError:
            return None
    return None


def _finite(value: Number) -> bool:
    try:
        return as_decimal(value).is_finite()
    except (InvalidOperation, ValueError):
        return False



def _to_text(value: Number | None) -> Any:
    if value is None or isinstance(value, int):
        return value
    return {"d": str(value)} if isinstance(value, Decimal) else float(value)


def _from_text(value: Any) -> Number | None:
    if isinstance(value, dict):
        return Decimal(value["d"])
    return value


ARROWS = {"up": "▲", "down": "▼", "flat": "=", "no data": ""}
MAX_COMPARED_COLUMNS = 3


def comparison_lines(comparison: Comparison) -> list[str]:
    """``Compared with the previous week (…)`` and one line per key metric's change."""
    title = f"Compared with {comparison.label} ({comparison.window})"
    if comparison.empty:
        return [f"{title}: no data (the query returned no rows for that window)"]
    lines = [title]
    columns: list[str] = []
    for delta in comparison.deltas:
        if delta.metric != ROWS and delta.metric not in columns:
            columns.append(delta.metric)
        if delta.metric == ROWS or delta.metric in columns[:MAX_COMPARED_COLUMNS]:
            lines.append(delta_text(delta))
    if len(columns) > MAX_COMPARED_COLUMNS:
        lines.append(f"{len(columns) - MAX_COMPARED_COLUMNS} more numeric columns compared in the run's metadata")
    return lines


def signal_lines(comparisons, anomaly: AnomalyCheck | None, targets) -> list[str]:
    """Comparisons, the anomaly check and target progress as exact-figure lines (prompt, webhooks,
    Teams, email)."""
    lines = [line for comparison in comparisons for line in comparison_lines(comparison)]
    if anomaly is not None:
        lines.append(anomaly_line(anomaly))
    lines.extend(target_line(target) for target in targets)
    return lines


def delta_text(delta: Delta) -> str:
    """``revenue total: 1,250 vs 1,000, ▲ +250 (+25.0%)``."""
    from report_pipelines.formatting import format_number

    name = "Rows" if delta.metric == ROWS else f"{delta.metric} {delta.stat}"
    now = format_number(delta.current)
    if delta.direction == "no data":
        before = "no data" if delta.earlier is None else format_number(delta.earlier)
        return f"{name}: {now} vs {before}"
    change = delta.change
    text = f"{name}: {now} vs {format_number(delta.earlier)}, "
    if change == 0:
        return text + "= no change"
    text += f"{ARROWS[delta.direction]} {'+' if change > 0 else ''}{format_number(change)}"
    pct = delta.change_pct
    if pct is not None:
        text += f" ({pct:+,.1f}%)"
    return text


def anomaly_line(check: AnomalyCheck) -> str:
    from report_pipelines.formatting import format_number

    name = f"{check.metric} {check.stat}"
    if check.low is None or check.high is None:
        return f"Anomaly check of {name}: {check.reason}"
    usual = f"{format_number(check.low)} to {format_number(check.high)} (median {format_number(check.median)} of the last {check.history} windows)"
    if check.flagged:
        side = "above" if as_decimal(check.value) > check.high else "below"
        return f"⚠️ Anomaly: {name} {format_number(check.value)} is {side} the usual range {usual}"
    return f"No anomaly: {name} {format_number(check.value)} is within the usual range {usual}"


def target_line(target: TargetProgress) -> str:
    from report_pipelines.formatting import format_number

    name = f"{target.metric} {target.stat}"
    pct = target.percent
    if pct is None:
        return f"Target for {name}: no value this window (target {format_number(target.target)})"
    shown = f"{pct:,.1f}".rstrip("0").rstrip(".")
    return f"Target: {name} {format_number(target.value)} is {shown}% of {format_number(target.target)}"
