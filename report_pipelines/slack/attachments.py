"""What goes into a report message's thread: a chart PNG, the full CSV, and long texts.

Everything here is pure (no Dagster, no network): :mod:`report_pipelines.slack.threads` posts
the results. The texts are Slack mrkdwn, escaped with :func:`~report_pipelines.slack.blocks.escape`
and cut to the section limit without losing a character, so a long SQL statement or a long list
of insights arrives whole, spread over as many thread replies as it needs.

    png = chart_png(frame, analysis, title="Weekly revenue", timezone="Europe/London")
    data = csv_bytes(frame)
    replies = sql_thread_text([sql])
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from report_pipelines.analysts.types import Analysis, CategoryTop, Trend
from report_pipelines.slack.blocks import ELLIPSIS, MAX_SECTION_CHARS, escape, format_number

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

# OWASP's list of characters that make Excel, LibreOffice and Google Sheets read a cell as a
# formula (a tab or CR can precede one).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Slack would end a code block at any ``` inside it, so backticks in SQL are shown as a look-alike
# (U+02CB). Copying the SQL back out then fails loudly at the warehouse rather than quietly
# running different SQL, which replacing them with quotes (as the table cells do) would risk.
BACKTICK_STAND_IN = "\u02cb"
CODE_OPEN = "```\n"
CODE_CLOSE = "\n```"
# An item cut across messages ends and resumes with this, so readers see it continues.
CONTINUED = ELLIPSIS
BULLET = "• "
MAX_THREAD_TITLE_CHARS = 150


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


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The whole result as UTF-8 CSV (CRLF line ends) with a header row and no index.

    Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
    tab or CR) gets a leading ``'``, in cells and in column names alike. Numbers are never
    touched, so ``-5`` in a numeric column stays a number.
    """
    safe = frame.copy(deep=False)
    safe.columns = [_guard(_column_name(label)) for label in frame.columns]
    # By position: column names may repeat, and safe[name] would then be a frame.
    for index in range(safe.shape[1]):
        column = safe.iloc[:, index]
        if _may_hold_text(column.dtype):
            guarded = [_guard(value) for value in column.to_numpy(dtype=object)]
            safe.isetitem(index, pd.Series(guarded, index=safe.index, dtype=object))
    # CRLF as RFC 4180 has it, and not only for Excel: Python's csv module quotes a field only for
    # characters in the line terminator, so with "\n" alone a lone CR in a value would go out
    # unquoted and split the row for every reader.
    text = safe.to_csv(index=False, lineterminator="\r\n")
    # Lone surrogates (badly decoded source data) cannot be encoded; they become "?".
    return text.encode("utf-8", "replace")


def sql_thread_text(sql_runs: Sequence[str]) -> list[str]:
    """The SQL a prompt-only report ran, as mrkdwn messages of at most 3,000 characters.

    Each statement sits in a code block under a heading (``*SQL run 2 of 3*``); one too long for a
    message is cut, at a line break where possible, into ``(part i/n)`` messages whose code
    blocks join back to the exact statement. Blank statements are left out; backticks show as
    ``ˋ`` so they cannot close the code block.
    """
    statements = [sql for sql in sql_runs if sql.strip()]
    count = len(statements)
    messages: list[str] = []
    for number, sql in enumerate(statements, start=1):
        heading = "*SQL run*" if count == 1 else f"*SQL run {number} of {count}*"
        body = sql.replace("`", BACKTICK_STAND_IN)
        # Part numbers are unknown until the text is cut, so room is kept for the widest.
        widest = f"{heading} (part {len(body)}/{len(body)})\n"
        budget = MAX_SECTION_CHARS - len(widest) - len(CODE_OPEN) - len(CODE_CLOSE)
        pieces = _cut(body, budget, first_budget=budget)
        for part, piece in enumerate(pieces, start=1):
            label = heading if len(pieces) == 1 else f"{heading} (part {part}/{len(pieces)})"
            messages.append(f"{label}\n{CODE_OPEN}{escape(piece)}{CODE_CLOSE}")
    return messages


def thread_messages_for_overflow(title: str, items: Sequence[str]) -> list[str]:
    """Every item as a bullet, over as many mrkdwn messages of at most 3,000 characters as needed.

    Each message starts with the bold ``title`` (and ``(i/n)`` when there are several). Items
    are packed in order and never dropped; one longer than a message is cut into pieces that end
    and resume with ``…``. Blank items are left out.
    """
    kept = [item for item in items if item.strip()]
    if not kept:
        return []
    heading = f"*{escape(_one_line(title, MAX_THREAD_TITLE_CHARS))}*"
    # Room for the widest possible "(i/n)": there are never more messages than characters.
    total_chars = sum(len(item) for item in kept)
    widest = f"{heading} ({total_chars}/{total_chars})"
    budget = MAX_SECTION_CHARS - len(widest)

    bodies: list[list[str]] = [[]]
    used = 0
    for item in kept:
        line = f"\n{BULLET}{escape(item)}"
        if used + len(line) <= budget:
            bodies[-1].append(line)
            used += len(line)
            continue
        if len(line) <= budget:
            bodies.append([line])
            used = len(line)
            continue
        # Too long for any one message: fill what is left of this one, then continue in fresh
        # ones, rather than leaving a near-empty message behind.
        wrapping = len(f"\n{BULLET}") + 2 * len(CONTINUED)
        room = budget - used - wrapping
        if room < budget // 10:
            bodies.append([])
            room = budget - wrapping
        pieces = _cut(item, budget - wrapping, first_budget=room)
        for index, piece in enumerate(pieces):
            start = BULLET if index == 0 else f"{BULLET}{CONTINUED}"
            end = "" if index == len(pieces) - 1 else CONTINUED
            line = f"\n{start}{escape(piece)}{end}"
            if index > 0:
                bodies.append([])
                used = 0
            bodies[-1].append(line)
            used += len(line)
    bodies = [body for body in bodies if body]
    if len(bodies) == 1:
        return [heading + "".join(bodies[0])]
    return [
        f"{heading} ({number}/{len(bodies)})" + "".join(body)
        for number, body in enumerate(bodies, start=1)
    ]


def _cut(text: str, budget: int, *, first_budget: int) -> list[str]:
    """Cut raw ``text`` into pieces whose *escaped* length fits; the pieces join back to it.

    The first piece gets ``first_budget`` (what is left of a message), the rest ``budget``. A
    piece ends after a line break when one falls in its second half, else after a space, else
    where the budget runs out. Raw text is cut, never escaped text, so ``&amp;`` stays whole.
    """
    widths = np.fromiter((len(escape(char)) for char in text), dtype=np.int64, count=len(text))
    # ends[i] = escaped length of text[:i].
    ends = np.concatenate(([0], np.cumsum(widths)))
    pieces: list[str] = []
    start = 0
    limit = max(first_budget, 1)
    while start < len(text):
        # The furthest end whose escaped length from start still fits (at least one character).
        stop = int(np.searchsorted(ends, ends[start] + limit, side="right")) - 1
        stop = max(stop, start + 1)
        if stop < len(text):
            stop = _break_point(text, start, stop)
        pieces.append(text[start:stop])
        start = stop
        limit = budget
    return pieces


def _break_point(text: str, start: int, stop: int) -> int:
    # Only breaks in the second half count: cutting a piece short to reach a distant line break
    # would double the number of messages for little gain.
    floor = start + (stop - start) // 2
    for separator in ("\n", " "):
        found = text.rfind(separator, floor, stop)
        if found != -1:
            return found + 1
    return stop


def _one_line(value: str, limit: int, *, keep_end: bool = False) -> str:
    """``value`` on one line in at most ``limit`` characters, cut at the end or in the middle.

    ``keep_end`` suits category labels, which often share a long prefix and differ at the end
    ("Store 0412 - North", "Store 0412 - South").
    """
    text = " ".join(str(value).split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if keep_end:
        head = room - room // 2
        return text[:head].rstrip() + ELLIPSIS + text[len(text) - room // 2 :].lstrip()
    return text[:room].rstrip() + ELLIPSIS


def _column_name(label: object) -> str:
    # The same rendering the analyst uses, so analysis.trend / categories name columns we find.
    if isinstance(label, tuple):
        return " / ".join(text for text in map(str, label) if text)
    return str(label)


def _guard(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _may_hold_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):
        return _may_hold_text(dtype.categories.dtype)
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _find_column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    for index in range(frame.shape[1]):
        if _column_name(frame.columns[index]) == name:
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
    labels = [_one_line(label, MAX_CHART_LABEL_CHARS, keep_end=True) for label in bars.index]
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


# Data-derived text is drawn literally: no mathtext for "$", no LaTeX even if matplotlibrc
# turns text.usetex on.
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
    axes.set_title(_one_line(title, MAX_CHART_TITLE_CHARS), loc="left", fontsize=12, **_LITERAL)
    axes.grid(True, axis="both", color="#d0d7de", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _label_axes(axes: Axes, *, x_label: str, y_label: str) -> None:
    axes.set_xlabel(_one_line(x_label, MAX_CHART_LABEL_CHARS), **_LITERAL)
    axes.set_ylabel(_one_line(y_label, MAX_CHART_LABEL_CHARS), **_LITERAL)


def _number_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _position: format_number(value))


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # Without "Software" the PNG carries no matplotlib version, so equal data gives equal bytes.
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
