"""Exact figures of a query result: column metrics, leading categories and the trend.

The frame's columns are sorted into numeric, text and time columns by their dtype or, for
object columns, by the Python types of their values. Numeric columns get exact totals,
averages, minimums and maximums (see :mod:`~report_pipelines.analysts.exact`); text columns are
ranked by the primary metric (or by rows); the first time column with at least two time values
that have the primary metric carries its trend. Nulls are skipped everywhere, and inf/-inf are counted
in a note instead of poisoning the totals.
"""

from __future__ import annotations

import datetime as dt
import decimal
import heapq
import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from report_pipelines.analysts import exact
from report_pipelines.analysts.exact import Kind
from report_pipelines.analysts.types import CategoryTop, ColumnMetrics, Number, Trend, TrendPoint
from report_pipelines.formatting import column_name, plural

# Checked keyword by keyword, so a "units" column never outranks a "revenue" column that
# appears later in the frame.
PRIMARY_METRIC_KEYWORDS = ("revenue", "sales", "amount", "total", "value", "count", "units")
MAX_CATEGORY_COLUMNS = 3
TOP_VALUES = 3
# Above this many rows a text column whose every value differs is an identifier, and ranking
# ids says nothing; small results keep such columns because their names are often the point.
ID_COLUMN_MIN_ROWS = 20
MAX_LABEL_DIGITS = 4000


@dataclass
class NumericColumn:
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
        total = exact.total(self.kind, self.values)
        if self.kind == "float":
            average: Number = total / self.usable
            minimum: Number = float(np.min(self.values))
            maximum: Number = float(np.max(self.values))
        else:
            average = exact.mean(total, self.usable)
            if isinstance(self.values, np.ndarray):
                minimum, maximum = int(self.values.min()), int(self.values.max())
            else:
                minimum, maximum = min(self.values), max(self.values)
        return ColumnMetrics(self.name, self.nonnull, total, average, minimum, maximum)


@dataclass
class GroupedColumn:
    """A text or time column factorised: ``codes[i]`` indexes ``labels`` (-1 for null)."""

    name: str
    codes: np.ndarray
    labels: list
    is_time: bool = False

def profile_columns(
    frame: pd.DataFrame,
) -> tuple[list[NumericColumn], list[GroupedColumn], list[GroupedColumn], list[str]]:
    """Sort the frame's columns into numeric, text (at most three) and time columns."""
    numeric: list[NumericColumn] = []
    texts: list[GroupedColumn] = []
    times: list[GroupedColumn] = []
    notes: list[str] = []
    row_count = len(frame)
    # By position: column labels may repeat, and frame[label] would then return a frame.
    for index in range(frame.shape[1]):
        series = frame.iloc[:, index]
        name = column_name(frame.columns[index])
        column = _classify(name, series)
        if isinstance(column, NumericColumn):
            numeric.append(column)
            if column.nonfinite:
                notes.append(
                    f"{name}: {plural(column.nonfinite, 'non-finite value')} (inf/-inf) left out "
                    "of the total, average, minimum and maximum."
                )
        elif isinstance(column, GroupedColumn) and column.is_time:
            times.append(column)
        elif isinstance(column, GroupedColumn) and len(texts) < MAX_CATEGORY_COLUMNS:
            nonnull = int(np.count_nonzero(column.codes >= 0))
            if row_count > ID_COLUMN_MIN_ROWS and len(column.labels) == nonnull:
                notes.append(f"{name}: every value is different, so it is not ranked.")
            else:
                texts.append(column)
    return numeric, texts, times, notes


def _classify(name: str, series: pd.Series) -> NumericColumn | GroupedColumn | None:
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


def _int_column(name: str, series: pd.Series) -> NumericColumn:
    notna = _notna(series)
    # Masked and Arrow integer dtypes name their numpy counterpart; null rows are dropped first.
    numpy_dtype = getattr(series.dtype, "numpy_dtype", series.dtype)
    values = series[notna].to_numpy(dtype=numpy_dtype)
    return NumericColumn(name, "int", values, np.flatnonzero(notna), len(values), 0)


def _float_column(name: str, series: pd.Series) -> NumericColumn:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _float_from_array(name, values)


def _float_from_array(name: str, values: np.ndarray) -> NumericColumn:
    nonnull = ~np.isnan(values)
    finite = np.isfinite(values)
    positions = np.flatnonzero(finite)
    return NumericColumn(
        name,
        "float",
        values[positions],
        positions,
        int(np.count_nonzero(nonnull)),
        int(np.count_nonzero(nonnull & ~finite)),
    )


def _datetime64_column(name: str, series: pd.Series) -> GroupedColumn:
    codes, uniques = pd.factorize(series)
    index = pd.DatetimeIndex(uniques)
    # DATE columns reach pandas as midnight timestamps; they read better as dates.
    if index.tz is None and len(index) and bool((index == index.normalize()).all()):
        labels: list = [stamp.date() for stamp in index]
    else:
        labels = [stamp.to_pydatetime(warn=False) for stamp in index]
    return GroupedColumn(name, np.asarray(codes), labels, is_time=True)


def _object_column(
    name: str, series: pd.Series, *, force_text: bool = False
) -> NumericColumn | GroupedColumn | None:
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
) -> NumericColumn:
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
    return NumericColumn(
        name, kind, usable, np.asarray(keep, dtype=np.intp), len(positions), nonfinite
    )


def _time_grouped(
    name: str, length: int, positions: np.ndarray, values: np.ndarray, types: set[type]
) -> GroupedColumn | None:
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
) -> GroupedColumn:
    if not time and not all(issubclass(t, str) for t in types):
        # Labels are shown as text, and hashing raw mixed values can fail (signalling NaN).
        values = np.asarray([_label(value) for value in values], dtype=object)
    codes_present, uniques = pd.factorize(values)
    codes = np.full(length, -1, dtype=np.intp)
    codes[positions] = codes_present
    labels = list(uniques) if time else [str(label) for label in uniques]
    return GroupedColumn(name, codes, labels, is_time=time)


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


def primary_metric(numeric: list[NumericColumn]) -> int | None:
    """The index of the column the sentences lead with (column names may repeat)."""
    for keyword in PRIMARY_METRIC_KEYWORDS:
        for index, column in enumerate(numeric):
            if keyword in column.name.lower():
                return index
    return 0 if numeric else None


def _group_sums(metric: NumericColumn, codes: np.ndarray, groups: int) -> list[Number]:
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
            float_sums[int(group[start])] = exact.float_total(ordered[start:end])
        return float_sums
    if isinstance(metric.values, np.ndarray) and exact.fits_int64(metric.values):
        totals = np.zeros(groups, dtype=np.int64)
        np.add.at(totals, group, metric.values[keep].astype(np.int64))
        return [int(v) for v in totals.tolist()]
    if isinstance(metric.values, np.ndarray):
        values_list = metric.values[keep].tolist()
    else:
        values_list = [v for v, k in zip(metric.values, keep.tolist(), strict=True) if k]
    sums: list[Number] = [Decimal(0) if metric.kind == "decimal" else 0] * groups
    with decimal.localcontext(exact.SUMS_CONTEXT):
        for g, value in zip(group.tolist(), values_list, strict=True):
            sums[g] += value
    return sums


def category_top(text: GroupedColumn, measured: NumericColumn | None) -> CategoryTop:
    """The leading values of ``text`` by the sum of ``measured``, or by rows without one."""
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


def trend_of(times: list[GroupedColumn], measured: NumericColumn | None) -> Trend | None:
    """How ``measured`` moved over the first time column with two or more values that have it."""
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
