"""Render a report run as a Slack Block Kit message.

One pure function, :func:`build_report_message`, turns the query result and its
:class:`~report_pipelines.analysts.types.Analysis` into ``(blocks, text)``. It holds Slack's
limits whatever the data, and escapes every value taken from the data or the analyst's prose, so a
cell reading ``<!channel>`` shows as text instead of paging a channel.

The blocks are slack_sdk model objects, serialised with ``to_dict()`` into the plain dicts that
are posted and stored as JSON. Serialising refuses a header over 150 characters, a section text
over 3000, more than 10 fields and more than 10 context elements; it never sees the block count
and lets through fields over 2000 characters, context texts over 3000 and empty texts, so the
finished payload still goes through :func:`~report_pipelines.slack.limits.validate_message`
(:mod:`report_pipelines.slack.limits` lists which check lives where). Every part is capped here
before it is serialised, so a ``SlackObjectFormationError`` or a reported problem means a
layout bug, not bad data.

The limits and :func:`validate_message` are re-exported here for the modules that import them
with the layout. No Dagster import and no I/O: the delivery op calls this and posts the result.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from report_pipelines.analysts.types import Analysis, CategoryTop, ColumnMetrics, Trend, TrendPoint
from report_pipelines.analysts.periods import anomaly_line, comparison_lines, target_line
from report_pipelines.formatting import ELLIPSIS, MISSING, clean, escape, fit, format_number, one_line
from report_pipelines.models import ReportWindow
from report_pipelines.slack.limits import (
    MAX_ACTION_ELEMENTS,
    MAX_BLOCK_ID_CHARS,
    MAX_BUTTON_TEXT_CHARS,
    MAX_BUTTON_URL_CHARS,
    MAX_BUTTON_VALUE_CHARS,
    MAX_OPTION_VALUE_CHARS,
    MAX_OPTIONS,
    MAX_BLOCKS,
    MAX_CONTEXT_ELEMENTS,
    MAX_CONTEXT_TEXT_CHARS,
    MAX_FALLBACK_CHARS,
    MAX_FIELD_CHARS,
    MAX_FIELDS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    validate_message,
)

__all__ = [
    "MAX_ACTION_ELEMENTS",
    "MAX_BUTTON_TEXT_CHARS",
    "MAX_BUTTON_URL_CHARS",
    "MAX_BUTTON_VALUE_CHARS",
    "MAX_OPTIONS",
    "MAX_OPTION_VALUE_CHARS",
    "MAX_BLOCKS",
    "MAX_BLOCK_ID_CHARS",
    "MAX_CATEGORY_COLUMNS",
    "MAX_CATEGORY_VALUES",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_CONTEXT_TEXT_CHARS",
    "MAX_FALLBACK_CHARS",
    "MAX_FIELDS",
    "MAX_FIELD_CHARS",
    "MAX_HEADER_CHARS",
    "MAX_ITEM_CHARS",
    "MAX_LABEL_CHARS",
    "MAX_METRIC_SECTIONS",
    "MAX_SECTION_CHARS",
    "TABLE_CELL_CHARS",
    "TABLE_MAX_COLUMNS",
    "TABLE_MAX_ROWS",
    "ReportMessage",
    "build_report_message",
    "bullets_overflow",
    "validate_message",
]

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
    # With the report's id, the message carries its buttons (Re-run, Snooze, Open in Dagster).
    report_id: int | None = None

    def __post_init__(self) -> None:
        # A naive datetime would be read as the worker's local time and shown in the wrong zone.
        for name in ("run_time", "generated_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")


def build_report_message(message: ReportMessage) -> tuple[list[dict], str]:
    """Render ``message`` as ``(blocks, fallback_text)``, deterministic and within Slack's limits.

    The layout is a fixed sequence of at most 19 blocks, so the 50-block limit holds by
    construction; every variable part (text, fields, table rows, bullets) is capped where it is
    built. Sections that would be empty are left out because Slack rejects empty text.
    """
    zone = ZoneInfo(message.window.timezone)
    analysis = message.analysis
    header = fit(f"📊 {one_line(message.name)}", MAX_HEADER_CHARS)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header, emoji=True)),
        _context(
            f"🗓 {escape(message.window.describe())} · Run {_local_time(message.run_time, zone)}"
        ),
    ]
    description = clean(message.description).strip()
    if description:
        blocks.append(_section(fit(description, MAX_SECTION_CHARS)))
    blocks.append(DividerBlock())

    summary = clean(analysis.summary).strip()
    if summary:
        blocks.append(_section(_titled("Summary", summary)))
    blocks.extend(_metric_blocks(message))
    signals = _signals_text(analysis)
    if signals:
        blocks.append(_section(signals))
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
    blocks.append(DividerBlock())
    blocks.append(_footer(message, zone))
    rendered = [block.to_dict() for block in blocks]
    if message.report_id is not None:
        rendered.append(report_actions(message.report_id, message.window.partition_key, message.run_url))
    return rendered, _fallback_text(message)


ACTIONS_BLOCK_ID = "report_actions"
ACTION_RERUN = "report_rerun"
ACTION_SNOOZE = "report_snooze"
ACTION_OPEN = "report_open"
SNOOZE_OPTIONS = (("1d", "Snooze 1 day"), ("1w", "Snooze 1 week"), ("off", "Snooze until re-enabled"))


def report_actions(report_id: int, partition_key: str, run_url: str | None) -> dict:
    """The buttons under a report: Re-run (this window, forced), Snooze, Open in Dagster.

    Each value carries the report id and window, so the handler needs nothing else from Slack.
    Every part is bounded by construction: three elements of MAX_ACTION_ELEMENTS, texts under
    MAX_BUTTON_TEXT_CHARS, values of a few dozen characters (MAX_BUTTON_VALUE_CHARS,
    MAX_OPTION_VALUE_CHARS), three of MAX_OPTIONS options; a run link over MAX_BUTTON_URL_CHARS
    is left out.
    """
    window = json.dumps({"report": report_id, "window": partition_key}, separators=(",", ":"))
    elements: list[dict] = [
        {"type": "button", "action_id": ACTION_RERUN, "text": {"type": "plain_text", "text": "Re-run"},
         "value": window},
        {"type": "static_select", "action_id": ACTION_SNOOZE,
         "placeholder": {"type": "plain_text", "text": "Snooze"},
         "options": [
             {"text": {"type": "plain_text", "text": text},
              "value": json.dumps({"report": report_id, "snooze": choice}, separators=(",", ":"))}
             for choice, text in SNOOZE_OPTIONS
         ]},
    ]  # fmt: skip
    if run_url and len(run_url) <= MAX_BUTTON_URL_CHARS:
        # A button's url is plain text, not mrkdwn: encoded, never entity-escaped.
        elements.append({"type": "button", "action_id": ACTION_OPEN, "url": _encoded_url(run_url),
                         "text": {"type": "plain_text", "text": "Open in Dagster"}})
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _fallback_text(message: ReportMessage) -> str:
    text = f"📊 {one_line(message.name)} — {message.window.describe()}"
    anomaly = message.analysis.anomaly
    if anomaly is not None and anomaly.flagged:
        text += f" ⚠️ {anomaly_line(anomaly).removeprefix('⚠️ ')}"
    summary = one_line(message.analysis.summary)
    if summary:
        text += f": {summary}"
    return fit(text, MAX_FALLBACK_CHARS)


def _metric_blocks(message: ReportMessage) -> list[Block]:
    rows = format_number(message.total_rows)
    if message.truncated:
        rows += f" (truncated at {format_number(message.total_rows)})"
    fields = [f"*Rows*\n{rows}"]
    capacity = MAX_FIELDS * MAX_METRIC_SECTIONS - 1
    metrics = message.analysis.metrics
    fields.extend(_metric_field(metric) for metric in metrics[:capacity])

    blocks: list[Block] = [
        SectionBlock(
            text=_mrkdwn("*Key Metrics*") if start == 0 else None,
            fields=[_mrkdwn(field) for field in fields[start : start + MAX_FIELDS]],
        )
        for start in range(0, len(fields), MAX_FIELDS)
    ]
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


def _signals_text(analysis: Analysis) -> str:
    """Period-over-period changes, the anomaly check and target progress: one section."""
    parts = []
    for comparison in analysis.comparisons:
        title, *lines = comparison_lines(comparison)
        parts.append(f"*{escape(title)}*" + "".join(f"\n• {escape(line)}" for line in lines))
    flags = []
    if analysis.anomaly is not None:
        flags.append(anomaly_line(analysis.anomaly))
    flags.extend(target_line(target) for target in analysis.targets)
    if flags:
        parts.append("\n".join(escape(line) for line in flags))
    return fit("\n".join(parts), MAX_SECTION_CHARS) if parts else ""


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
        return f"{_figure(p.value)} ({fit(_moment(p.when, zone), MAX_LABEL_CHARS)})"

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


def _table_blocks(frame: pd.DataFrame, total_rows: int, zone: ZoneInfo) -> list[Block]:
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
    blocks: list[Block] = [_section(opening + "\n".join(lines) + closing)]

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
    text = one_line(text).replace("`", "'")
    if len(text) > TABLE_CELL_CHARS:
        text = text[: TABLE_CELL_CHARS - 1].rstrip() + ELLIPSIS
    return text


def _footer(message: ReportMessage, zone: ZoneInfo) -> ContextBlock:
    generated = (
        f"Generated {_local_time(message.generated_at, zone)} by {_label(message.analysis.analyst)}"
    )
    elements = [generated]
    if message.run_url:
        link = f"<{_safe_url(message.run_url)}|View run in Dagster>"
        # A URL cannot be shortened without breaking it; an absurdly long one is left out.
        if len(link) <= MAX_CONTEXT_TEXT_CHARS:
            elements.append(link)
    return _context(*elements)


def _safe_url(url: str) -> str:
    # `|` would end the URL inside Slack's <url|label> syntax and `>` the whole link; percent-
    # encoding them (and whitespace) keeps the address intact, then `&` is entity-escaped as
    # Slack asks for inside links.
    return escape(_encoded_url(url))


def _encoded_url(url: str) -> str:
    return quote(clean(url).strip(), safe=":/?#[]@!$&'()*+,;=%~")


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
    kept = [item for item in items if clean(item).strip()]
    if not kept:
        return ""
    text = title
    for shown, item in enumerate(kept):
        body = item if preformatted else fit(one_line(item), MAX_ITEM_CHARS)
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
    kept = [str(item) for item in items if clean(item).strip()]
    text = f"*{title}*"
    for shown, item in enumerate(kept):
        body = fit(one_line(item), MAX_ITEM_CHARS)
        candidate = f"{text}\n• {body}"
        left_after = len(kept) - shown - 1
        if len(candidate) + (len(_more_line(left_after)) if left_after else 0) > MAX_SECTION_CHARS:
            return [i for i in kept[:shown] if _is_cut(i)] + kept[shown:]
        text = candidate
    return [i for i in kept if _is_cut(i)]


def _is_cut(item: str) -> bool:
    return fit(one_line(item), MAX_ITEM_CHARS).endswith(ELLIPSIS) and not item.rstrip().endswith(ELLIPSIS)


def _more_line(count: int) -> str:
    return f"\n_…and {count:,} more_"


def _titled(title: str, body: str) -> str:
    heading = f"*{title}*\n"
    return heading + fit(body, MAX_SECTION_CHARS - len(heading))


def _label(value: Any) -> str:
    """A column name or category value: escaped, one line, bounded, never blank."""
    return fit(one_line(value), MAX_LABEL_CHARS) or "(blank)"


def _figure(value: Any) -> str:
    # Bounded like a label: a "number" from data may turn out to be arbitrary text.
    return fit(one_line(format_number(value)), MAX_LABEL_CHARS)


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
        return value.isoformat() if isinstance(value, dt.date) else one_line(value)
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


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_mrkdwn(text) for text in texts])
