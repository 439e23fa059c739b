"""The chart PNG of a report window: the trend of its main measure, or its top categories.

Pure (no Dagster, no network) and deterministic: the same data gives the same bytes. matplotlib
is imported on first use; a code location that never draws a chart never pays for it.

    png = chart_png(frame, analysis, title="Weekly revenue", timezone="Europe/London")
"""

from __future__ import annotations

import datetime as dt
import io
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from report_pipelines.analysts.types import Analysis, CategoryTop, Trend
from report_pipelines.formatting import column_name, format_number, shorten

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Fixed size and resolution: the same data must give the same bytes, whatever matplotlibrc says.
CHART_SIZE_INCHES = (10.0, 5.0)
CHART_DPI = 100
CHART_COLOR = "#1f6feb"
MAX_CHART_BARS = 15
# Beyond this the markers merge into a smear; the line alone reads better.
MAX_LINE_MARKERS = 60
MAX_CHART_LABEL_CHARS = 40
MAX_CHART_TITLE_CHARS = 100


def chart_png(
    frame: pd.DataFrame, analysis: Analysis, *, title: str, timezone: str
) -> bytes | None:
    """A PNG of the report's main series, or None when the result has nothing to chart.

    With a trend, the primary measure summed per time value as a line over time (aware times
    shown in ``timezone``); otherwise, with a top category, the measure (or row count) per value
    of that column as bars, largest 15 first. The frame is aggregated with pandas before anything
    is drawn, so drawing costs the same for a thousand rows or a million.

    The bytes are stable for the same input: fixed size and dpi, no timestamp or software
    metadata. Text from data is drawn literally: a ``$`` in a title or value is not mathtext.
    """
    if frame.shape[0] == 0:
        return None
    if analysis.trend is not None:
        trend_data = _trend_series(frame, analysis.trend)
        if trend_data is not None:
            return _line_chart(trend_data, analysis.trend, title=title, timezone=timezone)
    for top in analysis.categories[:1]:
        bars = _category_bars(frame, top)
        if bars is not None:
            return _bar_chart(bars, top, title=title)
    return None


def _find_column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    for index in range(frame.shape[1]):
        if column_name(frame.columns[index]) == name:
            return frame.iloc[:, index]
    return None


def _as_float(series: pd.Series) -> pd.Series:
    """``series`` as float64 for drawing: nulls, text and non-finite values become NaN."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pd.Series(np.nan, index=series.index)
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.astype("float64")
    else:
        try:
            values = pd.to_numeric(series, errors="coerce").astype("float64")
        except (ArithmeticError, TypeError, ValueError):
            # Ints beyond float range overflow and signalling-NaN Decimals raise on conversion;
            # the one-by-one path settles each value on its own.
            values = pd.Series(
                [_float_or_nan(value) for value in series.to_numpy(dtype=object)],
                index=series.index,
                dtype="float64",
            )
    return values.where(np.isfinite(values))


def _float_or_nan(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        return math.nan
    if not isinstance(value, (int, float, Decimal, np.number)):
        return math.nan
    try:
        return float(value)
    except (ArithmeticError, TypeError, ValueError):
        return math.nan


def _trend_series(frame: pd.DataFrame, trend: Trend) -> tuple[pd.Series, bool] | None:
    """Measure sums per time value, sorted by time, and whether the times were tz-aware."""
    times = _find_column(frame, trend.time_column)
    measure = _find_column(frame, trend.measure)
    if times is None or measure is None:
        return None
    values = _as_float(measure)
    keep = times.notna().to_numpy() & values.notna().to_numpy()
    if not keep.any():
        return None
    # Grouping the raw values first means only the distinct times are parsed, not every row;
    # the array (not the Series) keeps pandas from aligning on a possibly repeated index.
    sums = values[keep].groupby(times[keep].array, sort=False).sum()
    keys = sums.index
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        aware = True
    elif pd.api.types.is_datetime64_dtype(times.dtype):
        aware = False
    else:
        aware = any(
            isinstance(key, dt.datetime) and key.utcoffset() is not None for key in keys
        )
    stamps = pd.to_datetime(pd.Index(keys), errors="coerce", utc=aware)
    # Distinct raw values can be one instant (the same moment at different UTC offsets).
    series = pd.Series(sums.to_numpy(), index=stamps)
    series = series[series.index.notna()].groupby(level=0).sum().sort_index()
    if series.empty:
        return None
    return series, aware


def _category_bars(frame: pd.DataFrame, top: CategoryTop) -> pd.Series | None:
    """The measure (or row count) per value of ``top.column``, the largest MAX_CHART_BARS."""
    column = _find_column(frame, top.column)
    if column is None:
        return None
    present = column.notna().to_numpy()
    if not present.any():
        return None
    # Labels are text, as the analyst ranks them; str also settles mixed or unhashable values.
    labels = column[present].astype(str).to_numpy()
    if top.measure == "rows":
        totals = pd.Series(labels).value_counts(sort=False)
    else:
        measure = _find_column(frame, top.measure)
        if measure is None:
            return None
        totals = _as_float(measure)[present].groupby(labels, sort=False).sum()
    ranked = pd.DataFrame({"label": totals.index.astype(str), "value": totals.to_numpy()})
    # The label breaks ties, so the bars never depend on row order.
    ranked = ranked.sort_values(["value", "label"], ascending=[False, True], kind="stable")
    ranked = ranked.head(MAX_CHART_BARS)
    if ranked.empty:
        return None
    return pd.Series(ranked["value"].to_numpy(dtype="float64"), index=ranked["label"])


def _line_chart(
    trend_data: tuple[pd.Series, bool], trend: Trend, *, title: str, timezone: str
) -> bytes:
    from matplotlib import dates as mdates

    series, aware = trend_data
    figure, axes = _figure(title)
    # matplotlib stores times as UTC; aware times are labelled in the report's zone, naive ones
    # are wall-clock values already and are labelled as stored.
    zone = ZoneInfo(timezone) if aware else dt.timezone.utc
    locator = mdates.AutoDateLocator(tz=zone)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    x = series.index.tz_localize(None) if aware else series.index
    marker = "o" if len(series) <= MAX_LINE_MARKERS else None
    axes.plot(
        x.to_numpy(), series.to_numpy(), color=CHART_COLOR, linewidth=1.8, marker=marker,
        markersize=4,
    )
    _label_axes(axes, x_label=trend.time_column, y_label=trend.measure)
    axes.yaxis.set_major_formatter(_number_formatter())
    return _png(figure)


def _bar_chart(bars: pd.Series, top: CategoryTop, *, title: str) -> bytes:
    figure, axes = _figure(title)
    positions = np.arange(len(bars))
    container = axes.barh(positions, bars.to_numpy(), color=CHART_COLOR)
    labels = [shorten(label, MAX_CHART_LABEL_CHARS, keep_end=True) for label in bars.index]
    axes.set_yticks(positions, labels=labels, **_LITERAL)
    # Largest at the top, as people read a ranking.
    axes.invert_yaxis()
    axes.bar_label(
        container, labels=[format_number(value) for value in bars.to_numpy()], padding=3,
        fontsize=8, **_LITERAL,
    )
    measure = "rows" if top.measure == "rows" else top.measure
    _label_axes(axes, x_label=measure, y_label=top.column)
    axes.xaxis.set_major_formatter(_number_formatter())
    axes.margins(x=0.12)
    return _png(figure)


_LITERAL = {"parse_math": False, "usetex": False}


def _figure(title: str) -> tuple[Any, Axes]:
    # Imported here: matplotlib takes over half a second to import, and the code location
    # imports this module on every load whether or not any report asks for a chart. The Agg
    # canvas is attached explicitly and pyplot is never imported, so no global backend or
    # figure registry is touched and concurrent runs cannot see each other's figures.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(shorten(title, MAX_CHART_TITLE_CHARS), loc="left", fontsize=12, **_LITERAL)
    axes.grid(True, axis="both", color="#d0d7de", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _label_axes(axes: Axes, *, x_label: str, y_label: str) -> None:
    axes.set_xlabel(shorten(x_label, MAX_CHART_LABEL_CHARS), **_LITERAL)
    axes.set_ylabel(shorten(y_label, MAX_CHART_LABEL_CHARS), **_LITERAL)


def _number_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _position: format_number(value))


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # Without "Software" the PNG carries no matplotlib version, so equal data gives equal bytes.
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
