"""The offline analyst: exact figures and deterministic sentences computed from a query result.

It needs no credentials and no network, so it is the default analyst and the fallback when
Gemini is not configured. Every figure it reports is the exact value from the data:

* integers are summed as Python ints (no int64 wrap-around on large totals);
* ``Decimal`` values (how SQLAlchemy and DuckDB's Python API return DECIMAL columns) are summed
  as Decimals in a context wide enough that no addition rounds;
* floats are summed with :func:`math.fsum` (correctly rounded), ignoring inf/-inf, which are
  counted in ``notes`` instead of poisoning the totals;
* averages of integer and Decimal columns are exact quotients rounded half-to-even to 2 places.

The sentences are built from those figures by fixed rules, so the same frame always yields the
same :class:`Analysis`. The module does no I/O and has no Dagster import: the op that calls it
attaches the metadata.
"""

from __future__ import annotations

import datetime as dt
import decimal
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from report_pipelines.analysts.types import (
    Analysis,
    CategoryTop,
    ColumnMetrics,
    Number,
    Trend,
    TrendPoint,
)
from report_pipelines.models import ReportWindow
from report_pipelines.slack.blocks import format_number

ANALYST_NAME = "statistical"
# Checked keyword by keyword, so a "units" column never outranks a "revenue" column that
# appears later in the frame.
PRIMARY_METRIC_KEYWORDS = ("revenue", "sales", "amount", "total", "value", "count", "units")
MAX_CATEGORY_COLUMNS = 3
TOP_VALUES = 3
# Above this many rows a text column whose every value differs is an identifier, and ranking
# ids says nothing; small results keep such columns because their names are often the point.
ID_COLUMN_MIN_ROWS = 20
CONCENTRATION_SHARE = Decimal(50)
MAX_OTHER_TOTALS = 5
MAX_LABEL_DIGITS = 4000

# Wide enough that no addition of database numbers rounds. Only additions and comparisons run
# under it: a division would try to expand a repeating fraction to MAX_PREC digits.
_EXACT_SUMS = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[]
)
_INT64_LIMIT = 2**63

_PERIOD_OPENER = {
    "day": "The day's",
    "week": "This week's",
    "month": "This month's",
    "period": "This period's",
}

Kind = Literal["int", "decimal", "float"]


def analyze(
    frame: pd.DataFrame,
    *,
    window: ReportWindow,
    period: str,
    audience: str,
    truncated: bool = False,
    report_name: str = "",
) -> Analysis:
    """Analyse ``frame`` offline and describe it for ``audience`` ("analyst" or "general").

    ``period`` ("day", "week", "month" or "period") names the report window in sentences;
    ``truncated`` says the warehouse stopped at its row cap, so the frame is a prefix of the
    result. ``report_name`` is accepted so every analyst shares one signature; the Slack header
    already names the report, so these sentences do not repeat it.

    >>> import datetime as dt, pandas as pd
    >>> from report_pipelines.models import ReportWindow
    >>> start = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)
    >>> window = ReportWindow(partition_key="2026-11-16-00:00", start=start,
    ...                       end=start + dt.timedelta(days=7), timezone="UTC")
    >>> frame = pd.DataFrame({"region": ["North", "South"], "revenue": [3, 4]})
    >>> analyze(frame, window=window, period="week", audience="general").summary
    "This week's revenue (2026-11-16 → 2026-11-23) came to 7 across 2 records."
    """
    period = period if period in _PERIOD_OPENER else "period"
    general = audience == "general"
    row_count = len(frame)
    numeric, texts, times, notes = _profile(frame)

    metrics = [column.metrics() for column in numeric]
    primary_index = _primary_metric(numeric)
    primary = numeric[primary_index] if primary_index is not None else None
    measured = primary if primary is not None and primary.usable else None

    categories = [_category_top(text, measured) for text in texts]
    trend = _trend(times, measured)

    facts = _Facts(
        window_start=_local_date(window.start, window.timezone),
        window_end=_local_date(window.end, window.timezone),
        period=period,
        row_count=row_count,
        truncated=truncated,
        metrics=metrics,
        primary=metrics[primary_index] if primary_index is not None else None,
        categories=categories,
        trend=trend,
        nonfinite={column.name: column.nonfinite for column in numeric if column.nonfinite},
    )
    if general:
        summary, insights, recommendations = _general_text(facts)
    else:
        summary, insights, recommendations = _analyst_text(facts)
    return Analysis(
        analyst=ANALYST_NAME,
        row_count=row_count,
        truncated=truncated,
        summary=summary,
        insights=insights,
        recommendations=recommendations,
        metrics=metrics,
        categories=categories,
        trend=trend,
        notes=notes,
    )


@dataclass
class _NumericColumn:
    """One numeric column's usable values (non-null and finite) and where they sit."""

    name: str
    kind: Kind
    # numpy arrays when the column is numpy-backed; lists of Python ints / Decimals otherwise,
    # because values beyond int64 or with 38-digit precision do not fit numpy.
    values: np.ndarray | list
    positions: np.ndarray
    nonnull: int
    nonfinite: int

    @property
    def usable(self) -> int:
        return len(self.positions)

    def metrics(self) -> ColumnMetrics:
        if not self.usable:
            return ColumnMetrics(self.name, self.nonnull, 0, None, None, None)
        total = _exact_sum(self.kind, self.values)
        if self.kind == "float":
            average: Number = total / self.usable
            minimum: Number = float(np.min(self.values))
            maximum: Number = float(np.max(self.values))
        else:
            average = _exact_mean(total, self.usable)
            if isinstance(self.values, np.ndarray):
                minimum, maximum = int(self.values.min()), int(self.values.max())
            else:
                minimum, maximum = min(self.values), max(self.values)
        return ColumnMetrics(self.name, self.nonnull, total, average, minimum, maximum)


@dataclass
class _GroupedColumn:
    """A text or time column factorised: ``codes[i]`` indexes ``labels`` (-1 for null)."""

    name: str
    codes: np.ndarray
    labels: list
    is_time: bool = False


@dataclass
class _Facts:
    window_start: str
    window_end: str
    period: str
    row_count: int
    truncated: bool
    metrics: list[ColumnMetrics]
    primary: ColumnMetrics | None
    categories: list[CategoryTop]
    trend: Trend | None
    nonfinite: dict[str, int]


def _profile(
    frame: pd.DataFrame,
) -> tuple[list[_NumericColumn], list[_GroupedColumn], list[_GroupedColumn], list[str]]:
    """Sort the frame's columns into numeric, text (at most three) and time columns."""
    numeric: list[_NumericColumn] = []
    texts: list[_GroupedColumn] = []
    times: list[_GroupedColumn] = []
    notes: list[str] = []
    row_count = len(frame)
    # By position: column labels may repeat, and frame[label] would then return a frame.
    for index in range(frame.shape[1]):
        series = frame.iloc[:, index]
        name = _column_name(frame.columns[index])
        column = _classify(name, series)
        if isinstance(column, _NumericColumn):
            numeric.append(column)
            if column.nonfinite:
                notes.append(
                    f"{name}: {column.nonfinite} non-finite value"
                    f"{'' if column.nonfinite == 1 else 's'} (inf/-inf) left out of the total, "
                    "average, minimum and maximum."
                )
        elif isinstance(column, _GroupedColumn) and column.is_time:
            times.append(column)
        elif isinstance(column, _GroupedColumn) and len(texts) < MAX_CATEGORY_COLUMNS:
            nonnull = int(np.count_nonzero(column.codes >= 0))
            if row_count > ID_COLUMN_MIN_ROWS and len(column.labels) == nonnull:
                notes.append(f"{name}: every value is different, so it is not ranked.")
            else:
                texts.append(column)
    return numeric, texts, times, notes


def _classify(name: str, series: pd.Series) -> _NumericColumn | _GroupedColumn | None:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if isinstance(dtype, pd.CategoricalDtype):
        return _object_column(name, series, force_text=True)
    if pd.api.types.is_integer_dtype(dtype):
        return _int_column(name, series)
    if pd.api.types.is_float_dtype(dtype):
        return _float_column(name, series)
    if isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    ):
        return _datetime64_column(name, series)
    if (isinstance(dtype, np.dtype) and dtype.kind in "mcV") or isinstance(
        dtype, (pd.PeriodDtype, pd.IntervalDtype)
    ):
        return None
    return _object_column(name, series)


def _int_column(name: str, series: pd.Series) -> _NumericColumn:
    notna = _notna(series)
    # Masked and Arrow integer dtypes name their numpy counterpart; null rows are dropped first.
    numpy_dtype = getattr(series.dtype, "numpy_dtype", series.dtype)
    values = series[notna].to_numpy(dtype=numpy_dtype)
    return _NumericColumn(name, "int", values, np.flatnonzero(notna), len(values), 0)


def _float_column(name: str, series: pd.Series) -> _NumericColumn:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _float_from_array(name, values)


def _float_from_array(name: str, values: np.ndarray) -> _NumericColumn:
    nonnull = ~np.isnan(values)
    finite = np.isfinite(values)
    positions = np.flatnonzero(finite)
    return _NumericColumn(
        name,
        "float",
        values[positions],
        positions,
        int(np.count_nonzero(nonnull)),
        int(np.count_nonzero(nonnull & ~finite)),
    )


def _datetime64_column(name: str, series: pd.Series) -> _GroupedColumn:
    codes, uniques = pd.factorize(series)
    index = pd.DatetimeIndex(uniques)
    # DATE columns reach pandas as midnight timestamps; they read better as dates.
    if index.tz is None and len(index) and bool((index == index.normalize()).all()):
        labels: list = [stamp.date() for stamp in index]
    else:
        labels = [stamp.to_pydatetime(warn=False) for stamp in index]
    return _GroupedColumn(name, np.asarray(codes), labels, is_time=True)


def _object_column(
    name: str, series: pd.Series, *, force_text: bool = False
) -> _NumericColumn | _GroupedColumn | None:
    """Classify a column by the Python types of its values (object, string, Arrow, category)."""
    notna = _notna(series)
    positions = np.flatnonzero(notna)
    if not len(positions):
        # All null: nothing says what the column would have held.
        return None
    values = series.to_numpy(dtype=object)[positions]
    types = {type(value) for value in values}
    if force_text or all(issubclass(t, str) for t in types):
        return _grouped(name, len(series), positions, values, types)
    if all(_is_int_type(t) for t in types):
        return _exact_column(name, "int", positions, values)
    if all(_is_int_type(t) or issubclass(t, Decimal) for t in types):
        return _exact_column(name, "decimal", positions, values)
    if all(issubclass(t, (float, np.floating)) for t in types):
        full = np.full(len(series), np.nan)
        full[positions] = values.astype(np.float64)
        return _float_from_array(name, full)
    if all(issubclass(t, bool | np.bool_) for t in types):
        return None
    time_grouped = _time_grouped(name, len(series), positions, values, types)
    if time_grouped is not None:
        return time_grouped
    return _grouped(name, len(series), positions, values, types)


def _exact_column(
    name: str, kind: Kind, positions: np.ndarray, values: np.ndarray
) -> _NumericColumn:
    usable: list = []
    keep: list[int] = []
    nonfinite = 0
    for position, value in zip(positions.tolist(), values.tolist(), strict=True):
        if isinstance(value, Decimal):
            if not value.is_finite():
                nonfinite += 1
                continue
        elif kind == "decimal":
            value = Decimal(int(value))
        else:
            value = int(value)
        usable.append(value)
        keep.append(position)
    return _NumericColumn(
        name, kind, usable, np.asarray(keep, dtype=np.intp), len(positions), nonfinite
    )


def _time_grouped(
    name: str, length: int, positions: np.ndarray, values: np.ndarray, types: set[type]
) -> _GroupedColumn | None:
    if all(issubclass(t, dt.date) and not issubclass(t, dt.datetime) for t in types):
        return _grouped(name, length, positions, values, types, time=True)
    if all(issubclass(t, dt.datetime) for t in types):
        # Naive and aware datetimes cannot be ordered against each other.
        awareness = {value.utcoffset() is not None for value in values}
        if len(awareness) == 1:
            grouped = _grouped(name, length, positions, values, types, time=True)
            grouped.labels = [
                label.to_pydatetime(warn=False) if isinstance(label, pd.Timestamp) else label
                for label in grouped.labels
            ]
            return grouped
    return None


def _grouped(
    name: str,
    length: int,
    positions: np.ndarray,
    values: np.ndarray,
    types: set[type],
    *,
    time: bool = False,
) -> _GroupedColumn:
    if not time and not all(issubclass(t, str) for t in types):
        # Labels are shown as text, and hashing raw mixed values can fail (signalling NaN).
        values = np.asarray([_label(value) for value in values], dtype=object)
    codes_present, uniques = pd.factorize(values)
    codes = np.full(length, -1, dtype=np.intp)
    codes[positions] = codes_present
    labels = list(uniques) if time else [str(label) for label in uniques]
    return _GroupedColumn(name, codes, labels, is_time=time)


def _column_name(label: object) -> str:
    if isinstance(label, tuple):
        # MultiIndex columns: ("sales", 2026) reads as "sales / 2026", not a tuple repr.
        return " / ".join(text for text in map(str, label) if text)
    return str(label)


def _label(value: object) -> str:
    if isinstance(value, int) and abs(value) >= 10**MAX_LABEL_DIGITS:
        # Python refuses to print ints of more than 4300 digits (int_max_str_digits).
        return format(Decimal(value), ".4e")
    return str(value)


def _is_int_type(t: type) -> bool:
    return issubclass(t, int | np.integer) and not issubclass(t, bool | np.bool_)


def _notna(series: pd.Series) -> np.ndarray:
    try:
        return series.notna().to_numpy(dtype=bool)
    except ArithmeticError:
        # pandas compares values with themselves to find NaN, and a signalling Decimal NaN
        # raises InvalidOperation on comparison; fall back to checking each value.
        values = series.to_numpy(dtype=object)
        return np.fromiter((not _is_missing(v) for v in values), dtype=bool, count=len(values))


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, Decimal):
        return value.is_nan()
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _exact_sum(kind: Kind, values: np.ndarray | list) -> Number:
    if kind == "float":
        return _float_sum(values.tolist() if isinstance(values, np.ndarray) else values)
    if isinstance(values, np.ndarray):
        if _fits_int64(values):
            return int(values.sum(dtype=np.int64))
        return sum(values.tolist())
    if kind == "decimal":
        with decimal.localcontext(_EXACT_SUMS):
            return sum(values, Decimal(0))
    return sum(values)


def _float_sum(values: Sequence[float]) -> float:
    try:
        return math.fsum(values)
    except OverflowError:
        # fsum gives up when a partial sum leaves the float range even if the total would
        # not; the exact Decimal sum, rounded once by float(), is the same correctly rounded
        # result (or inf when the total really is out of range).
        with decimal.localcontext(_EXACT_SUMS):
            return float(sum((Decimal(v) for v in values), Decimal(0)))


def _fits_int64(values: np.ndarray) -> bool:
    """Whether summing ``values`` in int64 cannot overflow, whatever their order."""
    if not len(values):
        return True
    largest = max(abs(int(values.min())), abs(int(values.max())))
    return largest * len(values) < _INT64_LIMIT


def _exact_mean(total: int | Decimal, count: int) -> Decimal:
    """``total / count`` rounded half-to-even to 2 places, without intermediate rounding."""
    hundredths = round(Fraction(total) * 100 / count)
    # Via the int constructor, not a string: Python will not print ints past 4300 digits.
    return Decimal(hundredths).scaleb(-2, _EXACT_SUMS)


def _primary_metric(numeric: list[_NumericColumn]) -> int | None:
    """The index of the column the sentences lead with (column names may repeat)."""
    for keyword in PRIMARY_METRIC_KEYWORDS:
        for index, column in enumerate(numeric):
            if keyword in column.name.lower():
                return index
    return 0 if numeric else None


def _group_sums(metric: _NumericColumn, codes: np.ndarray, groups: int) -> list[Number]:
    """The exact sum of ``metric`` per group (0 for a group with no usable values)."""
    group = codes[metric.positions]
    keep = group >= 0
    group = group[keep]
    if metric.kind == "float":
        float_sums: list[Number] = [0.0] * groups
        if not len(group):
            return float_sums
        # Sorted by group, each group's values form one contiguous run that fsum can take.
        order = np.argsort(group, kind="stable")
        group = group[order]
        ordered = metric.values[keep][order].tolist()
        boundaries = (np.flatnonzero(group[1:] != group[:-1]) + 1).tolist()
        for start, end in zip([0, *boundaries], [*boundaries, len(group)], strict=True):
            float_sums[int(group[start])] = _float_sum(ordered[start:end])
        return float_sums
    if isinstance(metric.values, np.ndarray) and _fits_int64(metric.values):
        totals = np.zeros(groups, dtype=np.int64)
        np.add.at(totals, group, metric.values[keep].astype(np.int64))
        return [int(v) for v in totals.tolist()]
    if isinstance(metric.values, np.ndarray):
        values_list = metric.values[keep].tolist()
    else:
        values_list = [v for v, k in zip(metric.values, keep.tolist(), strict=True) if k]
    sums: list[Number] = [Decimal(0) if metric.kind == "decimal" else 0] * groups
    with decimal.localcontext(_EXACT_SUMS):
        for g, value in zip(group.tolist(), values_list, strict=True):
            sums[g] += value
    return sums


def _category_top(text: _GroupedColumn, measured: _NumericColumn | None) -> CategoryTop:
    groups = len(text.labels)
    if measured is not None:
        sums = _group_sums(measured, text.codes, groups)
        measure = measured.name
    else:
        counts = np.bincount(text.codes[text.codes >= 0], minlength=groups)
        sums = counts.tolist()
        measure = "rows"
    # nsmallest keeps this linear in the number of distinct values; the label breaks ties so
    # the ranking never depends on row order.
    top = heapq.nsmallest(TOP_VALUES, range(groups), key=lambda g: (-sums[g], text.labels[g]))
    return CategoryTop(
        column=text.name,
        measure=measure,
        distinct=groups,
        values=tuple((text.labels[g], sums[g]) for g in top),
    )


def _trend(times: list[_GroupedColumn], measured: _NumericColumn | None) -> Trend | None:
    if measured is None:
        return None
    for time in times:
        groups = len(time.labels)
        if groups < 2:
            continue
        # A time value whose rows all lack the measure has no figure; plotting it as zero
        # would report a drop that is really missing data.
        measured_codes = time.codes[measured.positions]
        present = np.bincount(measured_codes[measured_codes >= 0], minlength=groups)
        kept = [g for g in range(groups) if present[g]]
        if len(kept) < 2:
            continue
        sums = _group_sums(measured, time.codes, groups)
        order = sorted(kept, key=lambda g: time.labels[g])
        points = [TrendPoint(time.labels[g], sums[g]) for g in order]
        peak = low = points[0]
        # Strict comparisons keep the earliest point on ties.
        for point in points[1:]:
            if point.value > peak.value:
                peak = point
            if point.value < low.value:
                low = point
        return Trend(
            time_column=time.name,
            measure=measured.name,
            first=points[0],
            last=points[-1],
            peak=peak,
            low=low,
            points=len(points),
        )
    return None


def _analyst_text(facts: _Facts) -> tuple[str, list[str], list[str]]:
    window = f"the {facts.period} {facts.window_start} → {facts.window_end}"
    primary = facts.primary
    if not facts.row_count:
        summary = f"No rows for {window}: the query returned an empty result."
    else:
        summary = f"{_plural(facts.row_count, 'row')} for {window}."
        if primary is None:
            summary += " The result has no numeric columns."
        elif primary.average is None:
            summary += f" {primary.column} has no values to total."
        else:
            summary += (
                f" {primary.column} totalled {format_number(primary.total)} (average "
                f"{format_number(primary.average)}, min {format_number(primary.minimum)}, "
                f"max {format_number(primary.maximum)})."
            )
    summary += _truncation_sentence(facts)

    insights = [_analyst_category_sentence(top, primary, facts) for top in facts.categories]
    if facts.trend is not None:
        insights.append(_analyst_trend_sentence(facts.trend))
    others = [metric for metric in facts.metrics if metric is not primary]
    if others:
        insights.append(_other_totals_sentence(others))

    recommendations = _recommendations(facts, general=False)
    return summary, insights, recommendations


def _general_text(facts: _Facts) -> tuple[str, list[str], list[str]]:
    opener = _PERIOD_OPENER[facts.period]
    dates = f"({facts.window_start} → {facts.window_end})"
    primary = facts.primary
    if not facts.row_count:
        summary = (
            f"No rows came back for this {facts.period} {dates}, so there is nothing to report."
        )
    elif primary is None or primary.average is None:
        noun = _plural(facts.row_count, "record")
        summary = f"{opener} report {dates} covers {noun}."
    else:
        summary = (
            f"{opener} {primary.column} {dates} came to {format_number(primary.total)} "
            f"across {_plural(facts.row_count, 'record')}."
        )
    summary += _truncation_sentence(facts)

    insights: list[str] = []
    if facts.categories and facts.categories[0].values:
        insights.append(_general_category_sentence(facts.categories[0], primary, facts))
    if facts.trend is not None:
        insights.append(_general_trend_sentence(facts.trend, facts.period))
    recommendations = _recommendations(facts, general=True)
    return summary, insights, recommendations


def _truncation_sentence(facts: _Facts) -> str:
    if not facts.truncated:
        return ""
    return (
        f" Only the first {format_number(facts.row_count)} rows were analysed because the "
        "result hit the row cap."
    )


def _analyst_category_sentence(
    top: CategoryTop, primary: ColumnMetrics | None, facts: _Facts
) -> str:
    (leader, lead), *rest = top.values
    if top.distinct == 1:
        return f"{leader} is the only {top.column} value."
    if top.measure == "rows":
        share = _share(lead, facts.row_count)
        sentence = f"By {top.column}, {leader} had the most rows: {format_number(lead)}"
        sentence += f" ({format_number(share)}% of rows)" if share is not None else ""
    else:
        share = _share(lead, primary.total) if primary is not None else None
        sentence = f"By {top.column}, {leader} led {top.measure} with {format_number(lead)}"
        sentence += f" ({format_number(share)}% of the total)" if share is not None else ""
    followers = [f"{label} ({format_number(value)})" for label, value in rest]
    if followers:
        sentence += ", followed by " + " and ".join(followers)
    return f"{sentence}; {format_number(top.distinct)} distinct values."


def _general_category_sentence(
    top: CategoryTop, primary: ColumnMetrics | None, facts: _Facts
) -> str:
    leader, lead = top.values[0]
    if top.measure == "rows":
        return (
            f"{leader} came up most often: {format_number(lead)} of "
            f"{_plural(facts.row_count, 'record')}."
        )
    share = _share(lead, primary.total) if primary is not None else None
    share_text = f", {format_number(share)}% of the total" if share is not None else ""
    return f"{leader} brought in the most {top.measure}: {format_number(lead)}{share_text}."


def _analyst_trend_sentence(trend: Trend) -> str:
    first, last = trend.first, trend.last
    span = (
        f"from {format_number(first.value)} on {_when(first.when)} "
        f"to {format_number(last.value)} on {_when(last.when)}"
    )
    movement = _movement(trend)
    if movement is None:
        sentence = (
            f"{trend.measure} ended where it started, at {format_number(last.value)} "
            f"on {_when(first.when)} and {_when(last.when)}"
        )
    else:
        sentence = f"{trend.measure} {movement} {span}"
    return (
        f"{sentence}; peak {format_number(trend.peak.value)} on {_when(trend.peak.when)}, "
        f"low {format_number(trend.low.value)} on {_when(trend.low.when)} "
        f"({format_number(trend.points)} {trend.time_column} values)."
    )


def _general_trend_sentence(trend: Trend, period: str) -> str:
    movement = _movement(trend)
    if movement is None:
        return (
            f"{trend.measure} finished the {period} where it started, at "
            f"{format_number(trend.last.value)}, and was highest on {_when(trend.peak.when)} "
            f"({format_number(trend.peak.value)})."
        )
    first, last, peak = trend.first, trend.last, trend.peak
    return (
        f"{trend.measure} {movement} over the {period}, from {format_number(first.value)} on "
        f"{_when(first.when)} to {format_number(last.value)} on {_when(last.when)}, "
        f"and was highest on {_when(peak.when)} ({format_number(peak.value)})."
    )


def _movement(trend: Trend) -> str | None:
    """How the trend moved, e.g. ``rose 12.5%``; just ``rose`` from zero; None when flat."""
    first, last = trend.first.value, trend.last.value
    if last == first:
        return None
    verb = "rose" if last > first else "fell"
    change = _percent(abs(_fraction(last) - _fraction(first)), abs(_fraction(first)))
    if change is None:
        return verb
    if not change:
        return f"{verb} by less than 0.1%"
    return f"{verb} {format_number(change)}%"


def _other_totals_sentence(others: list[ColumnMetrics]) -> str:
    parts = []
    for metric in others[:MAX_OTHER_TOTALS]:
        if metric.average is None:
            parts.append(f"{metric.column} (no values)")
        else:
            total, average = format_number(metric.total), format_number(metric.average)
            parts.append(f"{metric.column} {total} (average {average})")
    more = len(others) - MAX_OTHER_TOTALS
    tail = f", and {_plural(more, 'more column')}" if more > 0 else ""
    return f"Other totals: {', '.join(parts)}{tail}."


def _recommendations(facts: _Facts, *, general: bool) -> list[str]:
    period = facts.period
    primary = facts.primary
    trend = facts.trend
    advice: list[str] = []
    if not facts.row_count:
        if general:
            advice.append(
                f"Check that data was recorded for this {period}: no rows between "
                f"{facts.window_start} and {facts.window_end}."
            )
        else:
            advice.append(
                "Check that the query's window filter matches the data (no rows between "
                f"{facts.window_start} and {facts.window_end})."
            )
    if facts.truncated:
        if general:
            advice.append(
                "Ask the report owner to summarise the query or raise the row cap, so the "
                "figures cover every row."
            )
        else:
            advice.append(
                "Aggregate the query or raise the row cap: these figures cover only the first "
                f"{format_number(facts.row_count)} rows."
            )
    if not general:
        for column, count in facts.nonfinite.items():
            advice.append(
                f"Fix or filter the {_plural(count, 'non-finite value')} in {column} at the "
                "source so every row counts towards its total."
            )
    if facts.row_count and primary is not None and primary.average is None:
        advice.append(f"Check why {primary.column} has no values this {period}.")
    if trend is not None and trend.last.value < trend.first.value:
        if general:
            advice.append(
                f"Look into the drop in {trend.measure} since {_when(trend.peak.when)}."
            )
        else:
            advice.append(
                f"Look into the drop in {trend.measure} since {_when(trend.peak.when)}: it "
                f"went from {format_number(trend.peak.value)} to {format_number(trend.last.value)} "
                f"on {_when(trend.last.when)}."
            )
    concentrated = _concentration(facts)
    if concentrated is not None:
        top, share = concentrated
        leader, percent = top.values[0][0], format_number(share)
        if general:
            advice.append(
                f"{leader} brings in {percent}% of {top.measure}: a change there would move "
                "the whole total, so keep an eye on it."
            )
        else:
            advice.append(
                f"{leader} accounts for {percent}% of {top.measure}: review the concentration "
                f"risk of relying on one {top.column}."
            )
    if advice:
        return advice
    if trend is not None and trend.last.value > trend.first.value:
        return [
            f"Check what drove {trend.measure} to its peak on {_when(trend.peak.when)} "
            "and whether it will continue."
        ]
    if facts.categories and facts.categories[0].values:
        leader = facts.categories[0].values[0][0]
        return [f"Compare {leader} with the previous {period} to see whether its lead holds."]
    if primary is not None:
        return [f"Compare {primary.column} with the previous {period} to track the change."]
    return [
        "Add a numeric measure to the query (for example a SUM or COUNT) so the report can "
        "total it."
    ]


def _concentration(facts: _Facts) -> tuple[CategoryTop, Decimal] | None:
    primary = facts.primary
    if primary is None:
        return None
    for top in facts.categories:
        if top.measure == "rows" or top.distinct < 2 or not top.values:
            continue
        share = _share(top.values[0][1], primary.total)
        if share is not None and share > CONCENTRATION_SHARE:
            return top, share
    return None


def _share(part: Number, whole: Number) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (1 dp), when both are positive and finite."""
    if not _finite(part) or not _finite(whole) or part <= 0 or whole <= 0:
        return None
    return _percent(_fraction(part), _fraction(whole))


def _percent(part: Fraction, whole: Fraction) -> Decimal | None:
    """Exact ``part / whole * 100`` rounded half-to-even to one decimal place."""
    if not whole:
        return None
    tenths = round(part / whole * 1000)
    return Decimal(tenths).scaleb(-1, _EXACT_SUMS)


def _fraction(value: Number) -> Fraction:
    if not _finite(value):
        return Fraction(0)
    return Fraction(value)


def _finite(value: Number) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _local_date(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def _when(moment: dt.date | dt.datetime) -> str:
    if not isinstance(moment, dt.datetime):
        return moment.isoformat()
    if moment.second or moment.microsecond:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def _plural(count: int, noun: str) -> str:
    return f"{format_number(count)} {noun}{'' if count == 1 else 's'}"
