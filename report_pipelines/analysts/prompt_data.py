"""The data a prompt shows, each part inside a ``<data kind="...">`` block.

Three parts, all derived from the query result and so all untrusted: the exact figures the
statistical analyst computed (:func:`figure_lines`, :func:`metrics_section`), a profile of the
first columns and an evenly spaced sample of rows (:class:`FrameView`). Each renders at several
sizes so the prompt can shrink to its token budget; :func:`defuse` keeps data from opening or
closing a block of its own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from report_pipelines.analysts.types import Analysis, CategoryTop, ColumnMetrics, Trend
from report_pipelines.formatting import clip, format_number

MAX_LABEL_CHARS = 80
# Profiling is O(rows) per column, so only the columns a prompt could ever show are profiled.
MAX_LISTED_COLUMNS = 200

# (rows, characters per cell, columns), largest first: the sample is what shrinks first.
SAMPLE_PLANS: tuple[tuple[int, int, int], ...] = (
    (40, 80, 24),
    (25, 60, 20),
    (15, 40, 16),
    (10, 30, 12),
    (5, 24, 8),
    (3, 16, 6),
    (1, 16, 4),
    (0, 0, 0),
)

_DATA_TAG = re.compile(r"<(\s*/?\s*data\b)", re.IGNORECASE)
# U+2039 looks like "<" to a reader but is not the delimiter, so data cannot close its block.
_DEFUSED_BRACKET = "‹"


def defuse(text: str) -> str:
    """Make ``text`` safe inside a data block: no ``<data`` or ``</data`` can open or close one."""
    return _DATA_TAG.sub(_DEFUSED_BRACKET + r"\1", text)


def data_block(kind: str, text: str) -> str:
    return f'<data kind="{kind}">\n{defuse(text)}\n</data>'


class FrameView:
    """What a prompt may show of a frame: a profile of its first columns and an evenly spaced
    sample of its rows.

    Built once per prompt and rendered at several sizes. Building costs one pass over each
    listed column; the rendered text does not grow with the row count.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.rows = len(frame)
        self.width = frame.shape[1]
        listed = min(self.width, MAX_LISTED_COLUMNS)
        self.names = [_label(frame.columns[i]) for i in range(listed)]
        self.profile = [_profile_line(self.names[i], frame.iloc[:, i]) for i in range(listed)]
        max_rows, max_chars, max_columns = SAMPLE_PLANS[0]
        # Evenly spaced rows show the whole window (start, middle, end), not just its first hour.
        sample = frame.iloc[_spread(self.rows, max_rows), : min(self.width, max_columns)]
        self.cells = [
            [_cell(value, max_chars) for value in row]
            for row in sample.itertuples(index=False, name=None)
        ]

    def profile_section(self, cap: int) -> str:
        if cap <= 0 or not self.profile:
            return ""
        lines = self.profile[:cap]
        hidden = self.width - len(lines)
        if hidden > 0:
            lines = [*lines, f"... and {format_number(hidden)} more columns"]
        return (
            "Column profile (name | kind | nulls | distinct values), "
            f"{format_number(self.width)} columns:\n" + data_block("profile", "\n".join(lines))
        )

    def sample_section(self, rows: int, chars: int, columns: int) -> tuple[str, int, int]:
        if rows <= 0 or not self.cells or not self.names:
            return "", 0, 0
        columns = min(columns, len(self.cells[0]))
        # Evenly spaced again within the precomputed sample, so fewer rows still span the window.
        chosen = [self.cells[i][:columns] for i in _spread(len(self.cells), rows)]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([clip(name, chars) for name in self.names[:columns]])
        writer.writerows([[clip(cell, chars) for cell in row] for row in chosen])
        caption = (
            f"Sample: {format_number(len(chosen))} of {format_number(self.rows)} rows, evenly "
            f"spaced, cells cut at {chars} characters"
        )
        if columns < self.width:
            caption += f", first {columns} of {format_number(self.width)} columns"
        caption += ". It is an excerpt: never total or count it."
        block = data_block("sample", buffer.getvalue().rstrip())
        return f"{caption}\n{block}", len(chosen), columns


@dataclass(frozen=True)
class Figures:
    """The exact figures of an analysis as prompt lines; only the metric lines are ever cut."""

    metrics: list[str]
    metric_total: int
    categories: list[str]
    trend: str | None
    notes: list[str]


def metrics_section(figures: Figures, metric_cap: int) -> str:
    """The figures block with the first ``metric_cap`` metric lines."""
    lines = figures.metrics[:metric_cap]
    hidden = figures.metric_total - len(lines)
    if hidden > 0:
        lines.append(f"... and {format_number(hidden)} more numeric columns")
    if not figures.metrics:
        lines.append("(no numeric columns)")
    # Categories, trend and notes are a handful of lines whatever the data: they always fit.
    lines.extend(figures.categories)
    if figures.trend:
        lines.append(figures.trend)
    lines.extend(figures.notes)
    return (
        "Exact metrics, computed over every row (quote these; never recompute):\n"
        + data_block("metrics", "\n".join(lines))
    )


def figure_lines(analysis: Analysis, *, max_notes: int, max_note_chars: int) -> Figures:
    """The metric, category, trend and note lines of ``analysis``, before any is cut."""
    metrics = [_metric_line(metric) for metric in analysis.metrics[:MAX_LISTED_COLUMNS]]
    categories = [_category_line(top) for top in analysis.categories]
    trend = _trend_line(analysis.trend) if analysis.trend is not None else None
    notes = [f"note: {clip(note, max_note_chars)}" for note in analysis.notes[:max_notes]]
    return Figures(metrics, len(analysis.metrics), categories, trend, notes)


def _metric_line(metric: ColumnMetrics) -> str:
    name = json.dumps(clip(metric.column, MAX_LABEL_CHARS), ensure_ascii=False)
    if metric.average is None:
        return f"metric {name}: no values ({format_number(metric.count)} non-null)"
    return (
        f"metric {name}: total {format_number(metric.total)}; average "
        f"{format_number(metric.average)}; min {format_number(metric.minimum)}; max "
        f"{format_number(metric.maximum)}; {format_number(metric.count)} values"
    )


def _category_line(top: CategoryTop) -> str:
    measure = "rows" if top.measure == "rows" else f"{clip(top.measure, MAX_LABEL_CHARS)} total"
    leaders = "; ".join(
        f"{clip(str(label), MAX_LABEL_CHARS)} {format_number(value)}"
        for label, value in top.values
    )
    return (
        f"top {clip(top.column, MAX_LABEL_CHARS)} by {measure} "
        f"({format_number(top.distinct)} distinct): {leaders}"
    )


def _trend_line(trend: Trend) -> str:
    change = trend.change_pct
    percent = f" ({_signed_percent(change)})" if change is not None else ""
    return (
        f"trend of {clip(trend.measure, MAX_LABEL_CHARS)} over "
        f"{clip(trend.time_column, MAX_LABEL_CHARS)} ({format_number(trend.points)} points): "
        f"first {_when(trend.first.when)} {format_number(trend.first.value)}; last "
        f"{_when(trend.last.when)} {format_number(trend.last.value)}{percent}; peak "
        f"{_when(trend.peak.when)} {format_number(trend.peak.value)}; low "
        f"{_when(trend.low.when)} {format_number(trend.low.value)}"
    )


def _signed_percent(change: Decimal) -> str:
    value = float(change)
    if not math.isfinite(value):
        # A Decimal change beyond float range; format_number shows it as infinity.
        return f"{format_number(value)}%"
    return f"{value:+,.1f}%"


def _profile_line(name: str, series: pd.Series) -> str:
    nulls = int(series.isna().sum())
    try:
        distinct = int(series.nunique(dropna=True))
    except TypeError:
        # Lists and dicts (JSON columns) are unhashable; their text form still counts them.
        distinct = int(series.dropna().astype(str).nunique())
    return f"{name} | {_kind(series)} | {format_number(nulls)} | {format_number(distinct)}"


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    first = series.first_valid_index()
    if first is None:
        return "empty"
    value = series.loc[first]
    if isinstance(value, pd.Series):
        # A repeated index label returns every matching row; any one of them shows the type.
        value = value.iloc[0]
    for kind, types in (
        ("boolean", (bool, np.bool_)),
        ("integer", (int, np.integer)),
        ("decimal", (Decimal,)),
        ("float", (float, np.floating)),
        ("timestamp", (dt.datetime,)),
        ("date", (dt.date,)),
        ("text", (str,)),
    ):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _cell(value: Any, chars: int) -> str:
    if _is_null(value):
        return ""
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        text = value.isoformat()
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    else:
        text = str(value)
    # One row per line: a newline inside a cell would read as a new row.
    return clip(text.replace("\r", " ").replace("\n", " "), chars)


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    return False


def _spread(length: int, count: int) -> list[int]:
    """Up to ``count`` positions spread evenly over ``range(length)``, first and last included."""
    if length <= 0 or count <= 0:
        return []
    positions = np.linspace(0, length - 1, num=min(count, length)).round().astype(int)
    return np.unique(positions).tolist()


def _label(name: Any) -> str:
    return clip(str(name).replace("\n", " "), MAX_LABEL_CHARS)


def _when(moment: dt.date | dt.datetime) -> str:
    return moment.isoformat()
