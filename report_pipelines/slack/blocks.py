"""Render a report run as a Slack Block Kit message.

One pure function, :func:`build_report_message`, turns the query result and its
:class:`~report_pipelines.analysts.types.Analysis` into ``(blocks, text)``. It holds Slack's
limits whatever the data, and escapes every value taken from the data or the analyst's prose, so a
cell reading ``<!channel>`` shows as text instead of paging a channel. :func:`validate_message`
checks a finished payload against the same limits without knowing how it was built; delivery runs
it before posting so a layout bug fails loudly here rather than as an opaque ``invalid_blocks``.

No Dagster import and no I/O: the delivery op calls this and posts the result.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from report_pipelines.analysts.types import Analysis, CategoryTop, ColumnMetrics, Trend, TrendPoint
from report_pipelines.models import ReportWindow

MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
# Slack caps any text object at 3000 characters; a context element is one.
MAX_CONTEXT_TEXT_CHARS = 3000
MAX_BLOCK_ID_CHARS = 255
# Slack allows far longer notification text, but it is only a preview: past this nobody reads it.
MAX_FALLBACK_CHARS = 3000

TABLE_MAX_ROWS = 20
TABLE_MAX_COLUMNS = 8
TABLE_CELL_CHARS = 40

# Each metrics section carries at most MAX_FIELDS fields; three keep the message scannable.
MAX_METRIC_SECTIONS = 3
MAX_CATEGORY_COLUMNS = 3
MAX_CATEGORY_VALUES = 5
# A single bullet may not crowd the others out of the section.
MAX_ITEM_CHARS = 600
MAX_LABEL_CHARS = 80
# Past this many digits a number is unreadable in chat, and Python refuses to print ints
# beyond 4300 digits at all, so larger values switch to scientific notation.
MAX_EXACT_DIGITS = 30
# Floats carry about 15-16 significant digits: past 1e15 the integer digits would be noise.
FLOAT_EXACT_LIMIT = 1e15

ELLIPSIS = "…"
MISSING = "—"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_TEXT_KEYS = {
    "plain_text": frozenset({"type", "text", "emoji"}),
    "mrkdwn": frozenset({"type", "text", "verbatim"}),
}


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` the way Slack requires, so data cannot form links or pings."""
    return text.translate(_ESCAPE_TABLE)


def format_number(value: Any) -> str:
    """Human figure for a metric: ``1234`` -> ``1,234``; ``Decimal("1234.50")`` -> ``1,234.50``.

    Floats show two decimals (four significant digits below 1), integral floats show as ints,
    ``None`` shows as a dash. Booleans and other non-numbers render as their text.
    """
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Decimal):
        return _format_decimal(value)
    if isinstance(value, numbers.Integral):
        return _format_int(int(value))
    if isinstance(value, numbers.Real):
        return _format_float(float(value))
    return str(value)


def _format_int(value: int) -> str:
    if abs(value) >= 10**MAX_EXACT_DIGITS:
        return format(Decimal(value), ".4e")
    return f"{value:,}"


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= FLOAT_EXACT_LIMIT:
        return f"{value:.4e}"
    if value.is_integer():
        return f"{int(value):,}"
    if abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.2f}"


def _format_decimal(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "∞" if value > 0 else "-∞"
    _, digits, exponent = value.as_tuple()
    integer_digits = max(len(digits) + exponent, 1)
    fraction_digits = max(-exponent, 0)
    if integer_digits + fraction_digits > MAX_EXACT_DIGITS:
        return format(value, ".4e")
    return format(value, ",f")


@dataclass(frozen=True, eq=False)
class ReportMessage:
    """Everything one report message shows.

    ``eq=False`` because DataFrame equality is element-wise and ambiguous as a bool; two messages
    are the same object or different ones.
    """

    name: str
    description: str
    window: ReportWindow
    run_time: dt.datetime
    frame: pd.DataFrame
    total_rows: int
    truncated: bool
    analysis: Analysis
    run_url: str | None
    generated_at: dt.datetime

    def __post_init__(self) -> None:
        # A naive datetime would be read as the worker's local time and shown in the wrong zone.
        for name in ("run_time", "generated_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")


def build_report_message(message: ReportMessage) -> tuple[list[dict], str]:
    """Render ``message`` as ``(blocks, fallback_text)``, deterministic and within Slack's limits.

    The layout is a fixed sequence of at most 18 blocks, so the 50-block limit holds by
    construction; every variable part (text, fields, table rows, bullets) is capped where it is
    built. Sections that would be empty are left out because Slack rejects empty text.
    """
    zone = ZoneInfo(message.window.timezone)
    analysis = message.analysis
    blocks: list[dict] = [
        {"type": "header", "text": _plain(_fit(f"📊 {_one_line(message.name)}", MAX_HEADER_CHARS))},
        _context(
            f"🗓 {escape(message.window.describe())} · Run {_local_time(message.run_time, zone)}"
        ),
    ]
    description = _clean(message.description).strip()
    if description:
        blocks.append(_section(_fit(description, MAX_SECTION_CHARS)))
    blocks.append({"type": "divider"})

    summary = _clean(analysis.summary).strip()
    if summary:
        blocks.append(_section(_titled("Summary", summary)))
    blocks.extend(_metric_blocks(message))
    categories = _categories_text(analysis.categories)
    if categories:
        blocks.append(_section(categories))
    if analysis.trend is not None:
        trend = _trend_text(analysis.trend, zone)
        if trend:
            blocks.append(_section(trend))
    blocks.extend(_table_blocks(message.frame, message.total_rows, zone))
    for title, items in (
        ("Insights", analysis.insights),
        ("Recommendations", analysis.recommendations),
    ):
        bullets = _bullets(items, title=f"*{title}*")
        if bullets:
            blocks.append(_section(bullets))
    notes = _bullets(analysis.notes, limit=MAX_CONTEXT_TEXT_CHARS, marker="")
    if notes:
        blocks.append(_context(notes))
    blocks.append({"type": "divider"})
    blocks.append(_footer(message, zone))
    return blocks, _fallback_text(message)


def _fallback_text(message: ReportMessage) -> str:
    text = f"📊 {_one_line(message.name)} — {message.window.describe()}"
    summary = _one_line(message.analysis.summary)
    if summary:
        text += f": {summary}"
    return _fit(text, MAX_FALLBACK_CHARS)


def _metric_blocks(message: ReportMessage) -> list[dict]:
    rows = format_number(message.total_rows)
    if message.truncated:
        rows += f" (truncated at {format_number(message.total_rows)})"
    fields = [f"*Rows*\n{rows}"]
    capacity = MAX_FIELDS * MAX_METRIC_SECTIONS - 1
    metrics = message.analysis.metrics
    fields.extend(_metric_field(metric) for metric in metrics[:capacity])

    blocks: list[dict] = []
    for start in range(0, len(fields), MAX_FIELDS):
        block: dict = {"type": "section"}
        if start == 0:
            block["text"] = _mrkdwn("*Key Metrics*")
        block["fields"] = [_mrkdwn(field) for field in fields[start : start + MAX_FIELDS]]
        blocks.append(block)
    hidden = len(metrics) - capacity
    if hidden > 0:
        noun = "column" if hidden == 1 else "columns"
        blocks.append(_context(f"{hidden:,} more numeric {noun} not shown"))
    return blocks


def _metric_field(metric: ColumnMetrics) -> str:
    # Every part is bounded (label and four formatted numbers), so the field stays far below 2000.
    return (
        f"*{_label(metric.column)}*\n"
        f"Total: {_figure(metric.total)}\n"
        f"Average: {_figure(metric.average)}\n"
        f"Min: {_figure(metric.minimum)} · Max: {_figure(metric.maximum)}"
    )


def _categories_text(categories: Sequence[CategoryTop]) -> str:
    lines = []
    for top in categories[:MAX_CATEGORY_COLUMNS]:
        values = " · ".join(
            f"{_label(value)} {_figure(amount)}"
            for value, amount in top.values[:MAX_CATEGORY_VALUES]
        )
        if not values:
            continue
        measure = "rows" if top.measure == "rows" else _label(top.measure)
        distinct = format_number(top.distinct)
        lines.append(f"*{_label(top.column)}* by {measure} ({distinct} distinct): {values}")
    return _bullets(lines, title="*Top categories*", preformatted=True)


def _trend_text(trend: Trend, zone: ZoneInfo) -> str:
    def point(p: TrendPoint) -> str:
        return f"{_figure(p.value)} ({_fit(_moment(p.when, zone), MAX_LABEL_CHARS)})"

    sentence = (
        f"*Trend*\n{_label(trend.measure)} by {_label(trend.time_column)}: "
        f"{point(trend.first)} → {point(trend.last)}"
    )
    change = _change_text(trend)
    if change:
        sentence += f", {change}"
    sentence += (
        f" across {format_number(trend.points)} points; "
        f"peak {point(trend.peak)}, low {point(trend.low)}."
    )
    return sentence


def _change_text(trend: Trend) -> str:
    # Values come straight from data and may mix types or be NaN/inf; a change that cannot be
    # computed is left out rather than failing the whole message.
    try:
        change = trend.change
        percent = trend.change_pct
    except (ArithmeticError, TypeError, ValueError):
        return ""
    text = _figure(change)
    try:
        positive = change > 0
    except (ArithmeticError, TypeError):
        # Decimal NaN refuses ordering comparisons instead of answering False.
        positive = False
    if positive:
        text = f"+{text}"
    if percent is not None and percent.is_finite():
        ratio = float(percent)
        if math.isfinite(ratio):
            text += f" ({ratio:+,.1f}%)"
    return text


def _table_blocks(frame: pd.DataFrame, total_rows: int, zone: ZoneInfo) -> list[dict]:
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        return [_section("_No rows returned for this window._")]
    shown = frame.iloc[:TABLE_MAX_ROWS, :TABLE_MAX_COLUMNS]
    header = [_cell(name, zone) for name in shown.columns]
    right = [
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in shown.dtypes
    ]
    body = [
        [_cell(value, zone) for value in row]
        for row in shown.itertuples(index=False, name=None)
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = (c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right))
        return escape("  ".join(padded).rstrip())

    opening, closing = "```\n", "\n```"
    lines = [line(header), escape("  ".join("-" * w for w in widths))]
    size = len(opening) + len(closing) + len("\n".join(lines))
    rows_shown = 0
    # Escaping lengthens lines unevenly, so rows are added while the escaped text still fits.
    for row in body:
        rendered = line(row)
        if size + 1 + len(rendered) > MAX_SECTION_CHARS:
            break
        lines.append(rendered)
        size += 1 + len(rendered)
        rows_shown += 1
    blocks = [_section(opening + "\n".join(lines) + closing)]

    total = max(total_rows, len(frame))
    notes = []
    if rows_shown < total:
        notes.append(f"Showing {rows_shown:,} of {total:,} rows")
    if shown.shape[1] < frame.shape[1]:
        notes.append(f"{shown.shape[1]} of {frame.shape[1]:,} columns")
    if notes:
        blocks.append(_context(" · ".join(notes)))
    return blocks


def _cell(value: Any, zone: ZoneInfo) -> str:
    """One table cell as raw (unescaped) single-line text of at most TABLE_CELL_CHARS."""
    if _is_missing(value):
        text = MISSING
    elif isinstance(value, (dt.datetime, dt.date)):
        text = _moment(value, zone)
    else:
        text = format_number(value)
    # A backtick in the data would close the code block and let the rest render as mrkdwn.
    text = _one_line(text).replace("`", "'")
    if len(text) > TABLE_CELL_CHARS:
        text = text[: TABLE_CELL_CHARS - 1].rstrip() + ELLIPSIS
    return text


def _footer(message: ReportMessage, zone: ZoneInfo) -> dict:
    generated = (
        f"Generated {_local_time(message.generated_at, zone)} by {_label(message.analysis.analyst)}"
    )
    elements = [generated]
    if message.run_url:
        link = f"<{_safe_url(message.run_url)}|View run in Dagster>"
        # A URL cannot be shortened without breaking it; an absurdly long one is left out.
        if len(link) <= MAX_CONTEXT_TEXT_CHARS:
            elements.append(link)
    return {"type": "context", "elements": [_mrkdwn(e) for e in elements]}


def _safe_url(url: str) -> str:
    # `|` would end the URL inside Slack's <url|label> syntax and `>` the whole link; percent-
    # encoding them (and whitespace) keeps the address intact, then `&` is entity-escaped as
    # Slack asks for inside links.
    encoded = quote(_clean(url).strip(), safe=":/?#[]@!$&'()*+,;=%~")
    return escape(encoded)


def _bullets(
    items: Iterable[Any],
    *,
    title: str = "",
    limit: int = MAX_SECTION_CHARS,
    marker: str = "• ",
    preformatted: bool = False,
) -> str:
    """Title plus one line per item, as many as fit in ``limit``, then how many were left out.

    ``preformatted`` lines are already escaped and bounded; others are data and get both here.
    """
    kept = [item for item in items if _clean(item).strip()]
    if not kept:
        return ""
    text = title
    for shown, item in enumerate(kept):
        body = item if preformatted else _fit(_one_line(item), MAX_ITEM_CHARS)
        candidate = f"{text}\n{marker}{body}" if text else f"{marker}{body}"
        # Keep room for the "and N more" line that follows if later items do not fit, so
        # adding it can never push the text over the limit.
        left_after = len(kept) - shown - 1
        if len(candidate) + (len(_more_line(left_after)) if left_after else 0) > limit:
            text += _more_line(len(kept) - shown)
            break
        text = candidate
    return text.strip()


def bullets_overflow(items: Iterable[Any], *, title: str) -> list[str]:
    """The items a bullet section could not show in full (left out or cut), in order.

    Delivery posts them into the message's thread, so no insight is silently dropped.
    """
    kept = [str(item) for item in items if _clean(item).strip()]
    text = f"*{title}*"
    for shown, item in enumerate(kept):
        body = _fit(_one_line(item), MAX_ITEM_CHARS)
        candidate = f"{text}\n• {body}"
        left_after = len(kept) - shown - 1
        if len(candidate) + (len(_more_line(left_after)) if left_after else 0) > MAX_SECTION_CHARS:
            return [i for i in kept[:shown] if _is_cut(i)] + kept[shown:]
        text = candidate
    return [i for i in kept if _is_cut(i)]


def _is_cut(item: str) -> bool:
    return _fit(_one_line(item), MAX_ITEM_CHARS).endswith(ELLIPSIS) and not item.rstrip().endswith(ELLIPSIS)


def _more_line(count: int) -> str:
    return f"\n_…and {count:,} more_"


def _titled(title: str, body: str) -> str:
    heading = f"*{title}*\n"
    return heading + _fit(body, MAX_SECTION_CHARS - len(heading))


def _fit(text: str, limit: int) -> str:
    """Escape ``text`` and cut it so the *escaped* result has at most ``limit`` characters.

    The raw text is cut, never the escaped one, so an entity such as ``&amp;`` is kept whole.
    """
    text = _clean(text)
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget = limit - len(ELLIPSIS)
    used = 0
    end = 0
    for end, char in enumerate(text):
        size = len(_ESCAPES.get(char, char))
        if used + size > budget:
            break
        used += size
    return escape(text[:end].rstrip()) + ELLIPSIS


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (from badly decoded data) cannot be sent as UTF-8 JSON.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _one_line(value: Any) -> str:
    return " ".join(_clean(value).split())


def _label(value: Any) -> str:
    """A column name or category value: escaped, one line, bounded, never blank."""
    return _fit(_one_line(value), MAX_LABEL_CHARS) or "(blank)"


def _figure(value: Any) -> str:
    # Bounded like a label: a "number" from data may turn out to be arbitrary text.
    return _fit(_one_line(format_number(value)), MAX_LABEL_CHARS)


def _is_missing(value: Any) -> bool:
    try:
        missing = pd.isna(value)
    except (ArithmeticError, TypeError, ValueError):
        # Signalling-NaN Decimals raise on inspection; they are not "missing" but shown as NaN.
        return False
    # For containers pd.isna answers element-wise; only a scalar verdict means "missing".
    return isinstance(missing, (bool, np.bool_)) and bool(missing)


def _moment(value: Any, zone: ZoneInfo) -> str:
    """A date or datetime as raw text, aware datetimes shown in ``zone``."""
    if _is_missing(value):
        return MISSING
    if not isinstance(value, dt.datetime):
        return value.isoformat() if isinstance(value, dt.date) else _one_line(value)
    if value.utcoffset() is not None:
        try:
            value = value.astimezone(zone)
        except (OverflowError, ValueError):
            # Near datetime.min/max the shift would leave the representable range; the
            # original offset is still correct, just not in the report's zone.
            pass
    if value.time() == dt.time() and value.utcoffset() is None:
        return value.date().isoformat()
    seconds = ":%S" if value.second or value.microsecond else ""
    zone_name = " %Z" if value.utcoffset() is not None else ""
    return value.strftime(f"%Y-%m-%d %H:%M{seconds}{zone_name}")


def _local_time(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def validate_message(blocks: list[dict], text: str) -> list[str]:
    """Every way ``(blocks, text)`` breaks Slack's limits, one line each; empty when valid.

    Checks the finished payload only, so it catches mistakes in whatever built it. Block types
    other than header, section, context and divider are reported: we do not render them, and a
    check that passes what it cannot inspect would give false comfort.
    """
    problems: list[str] = []
    if not isinstance(text, str) or not text.strip():
        problems.append("text: the fallback text is empty")
    elif len(text) > MAX_FALLBACK_CHARS:
        problems.append(f"text: {len(text)} characters, over the {MAX_FALLBACK_CHARS} limit")

    if not isinstance(blocks, list):
        return [*problems, "blocks: must be a list"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"blocks: {len(blocks)} blocks, over the {MAX_BLOCKS} limit")
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict):
            problems.append(f"{where}: not an object")
            continue
        kind = block.get("type")
        check = _BLOCK_CHECKS.get(kind)
        if check is None:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        where = f"{where} ({kind})"
        block_id = block.get("block_id")
        too_long = isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID_CHARS
        if block_id is not None and (not isinstance(block_id, str) or too_long):
            problems.append(f"{where}.block_id: must be a string of at most {MAX_BLOCK_ID_CHARS}")
        problems.extend(check(where, block))
    return problems


def _check_header(where: str, block: dict) -> list[str]:
    return _check_text(f"{where}.text", block.get("text"), MAX_HEADER_CHARS, {"plain_text"})


def _check_section(where: str, block: dict) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        return [f"{where}: needs text or fields"]
    problems = []
    if text is not None:
        problems += _check_text(f"{where}.text", text, MAX_SECTION_CHARS, _TEXT_TYPES)
    if fields is not None:
        if not isinstance(fields, list) or not fields:
            return [*problems, f"{where}.fields: must be a non-empty list"]
        if len(fields) > MAX_FIELDS:
            problems.append(f"{where}.fields: {len(fields)} fields, over the {MAX_FIELDS} limit")
        for i, field in enumerate(fields):
            problems += _check_text(f"{where}.fields[{i}]", field, MAX_FIELD_CHARS, _TEXT_TYPES)
    return problems


def _check_context(where: str, block: dict) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements: must be a non-empty list"]
    problems = []
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        problems.append(
            f"{where}.elements: {len(elements)} elements, over the {MAX_CONTEXT_ELEMENTS} limit"
        )
    for i, element in enumerate(elements):
        path = f"{where}.elements[{i}]"
        if isinstance(element, dict) and element.get("type") == "image":
            keys = ("image_url", "alt_text")
            if not all(isinstance(element.get(k), str) and element[k] for k in keys):
                problems.append(f"{path}: an image needs image_url and alt_text")
        else:
            problems += _check_text(path, element, MAX_CONTEXT_TEXT_CHARS, _TEXT_TYPES)
    return problems


def _check_divider(where: str, block: dict) -> list[str]:
    extra = set(block) - {"type", "block_id"}
    return [f"{where}: unexpected keys {sorted(extra)}"] if extra else []


def _check_text(where: str, obj: Any, limit: int, types: Iterable[str]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: must be a text object"]
    kind = obj.get("type")
    if kind not in types:
        return [f"{where}: type {kind!r} is not allowed here (use {' or '.join(sorted(types))})"]
    problems = []
    extra = set(obj) - _TEXT_KEYS[kind]
    if extra:
        problems.append(f"{where}: unexpected keys {sorted(extra)}")
    value = obj.get("text")
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: text is empty")
    elif len(value) > limit:
        problems.append(f"{where}: text is {len(value)} characters, over the {limit} limit")
    return problems


_BLOCK_CHECKS: dict[Any, Callable[[str, dict], list[str]]] = {
    "header": _check_header,
    "section": _check_section,
    "context": _check_context,
    "divider": _check_divider,
}
