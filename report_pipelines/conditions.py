"""Conditional sends: decide from the exact metrics whether a window's report goes out.

A ``send_if`` block holds when every condition in it holds; ``all: [...]`` and ``any: [...]``
combine nested blocks. Freshness (``fresh``) is not decided here: stale data fails the run
before anything is analysed (``pipeline.fetch``), so by the time a block is evaluated its
``fresh`` parts have passed.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from decimal import Decimal

from report_pipelines.analysts.periods import UnknownMetric, WindowFigures, figures_of
from report_pipelines.analysts.types import Analysis, Delta, as_decimal
from report_pipelines.formatting import format_number
from report_pipelines.models import SendIf

_OPERATORS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


class ConditionError(ValueError):
    """send_if names something the result does not have."""


@dataclass(frozen=True)
class SendContext:
    """What the conditions beyond the current result need, gathered by the run.

    ``previous`` holds the previous window's figures (for change rules); ``last_delivered`` the
    partition key and result fingerprint of the last delivered window before this one (for
    ``changed``); ``fresh`` the freshness checks that passed.
    """

    fingerprint: str | None = None
    previous: WindowFigures | None = None
    previous_key: str | None = None
    last_delivered: tuple[str, str] | None = None
    fresh: list[str] = field(default_factory=list)


def evaluate_send_if(
    send_if: SendIf | None, analysis: Analysis, context: SendContext | None = None
) -> tuple[bool, str]:
    """``(send, reason)``: the reason is shown in the run's metadata either way."""
    if send_if is None:
        return True, "no send_if condition"
    context = context or SendContext()
    current = figures_of(analysis.metrics, analysis.row_count)
    met, reason = _block(send_if, analysis, current, context)
    return met, f"{reason}: {'sent' if met else 'nothing sent'}"


def _block(block: SendIf, analysis: Analysis, current: WindowFigures, context: SendContext) -> tuple[bool, str]:
    parts: list[tuple[bool, str]] = []
    if block.min_rows is not None:
        met = analysis.row_count >= block.min_rows
        parts.append((met, f"{analysis.row_count} rows {'>=' if met else '<'} min_rows {block.min_rows}"))
    if block.metric is not None and block.change is None:
        parts.append(_threshold(block, current))
    if block.change is not None:
        parts.append(_change(block, current, context))
    if block.changed:
        parts.append(_changed(context))
    if block.anomaly:
        parts.append(_anomaly(analysis))
    if block.fresh is not None:
        parts.append((True, next((text for text in context.fresh if block.fresh.column in text), "data is fresh")))
    if block.all:
        results = [_block(child, analysis, current, context) for child in block.all]
        parts.append((all(met for met, _ in results), "all of (" + "; ".join(text for _, text in results) + ")"))
    if block.any:
        results = [_block(child, analysis, current, context) for child in block.any]
        parts.append((any(met for met, _ in results), "any of (" + "; ".join(text for _, text in results) + ")"))
    return all(met for met, _ in parts), "; ".join(text for _, text in parts)


def _value(current: WindowFigures, metric: str, stat: str):
    try:
        return current.value(metric, stat)
    except UnknownMetric as err:
        raise ConditionError(f"send_if.metric {err}") from err


def _threshold(block: SendIf, current: WindowFigures) -> tuple[bool, str]:
    actual = _value(current, block.metric, block.stat)
    label = f"{block.stat} of {block.metric}"
    if actual is None:
        return False, f"{label} has no value (no non-null rows)"
    # Compare exactly: Decimal totals against the threshold as written, not as a float.
    threshold = _written(block.value)
    met = _OPERATORS[block.op](as_decimal(actual), threshold)
    return met, f"{label} = {format_number(actual)} {block.op} {format_number(threshold)} is {met}"


def _change(block: SendIf, current: WindowFigures, context: SendContext) -> tuple[bool, str]:
    label = f"change in {block.stat} of {block.metric}"
    now = _value(current, block.metric, block.stat)
    if context.previous is None:
        return False, f"{label}: the previous window could not be read"
    try:
        before = context.previous.value(block.metric, block.stat) if context.previous.rows else None
    except UnknownMetric:
        before = None
    delta = Delta(block.metric, block.stat, now, before)
    change = delta.change
    if change is None:
        return False, f"{label}: no value in the previous window ({context.previous_key}) to compare with"
    threshold = _written(block.value)
    if block.change == "pct":
        pct = delta.change_pct
        if pct is None:
            return False, f"{label}: the previous value is 0, so a percent change is undefined"
        measured = pct
        shown = f"{pct:+,.1f}% ({_signed(change)})"
    else:
        measured = change
        shown = _signed(change)
    met = _OPERATORS[block.op](measured, threshold)
    text = f"{label} from {format_number(before)} to {format_number(now)} = {shown} {block.op} {format_number(threshold)}"
    if block.min_abs is not None:
        least = _written(block.min_abs)
        big_enough = abs(change) >= least
        text += f", |change| {format_number(abs(change))} {'>=' if big_enough else '<'} min_abs {format_number(least)}"
        met = met and big_enough
    return met, f"{text} is {met}"


def _changed(context: SendContext) -> tuple[bool, str]:
    if context.last_delivered is None:
        return True, "changed: no earlier window was delivered"
    key, fingerprint = context.last_delivered
    if fingerprint == context.fingerprint:
        return False, f"changed: the result is identical to the last delivered window's ({key})"
    return True, f"changed: the result differs from the last delivered window's ({key})"


def _anomaly(analysis: Analysis) -> tuple[bool, str]:
    check = analysis.anomaly
    if check is None:
        return False, "anomaly: no anomaly check ran"
    return check.flagged, f"anomaly: {check.reason}"


def _signed(value: Decimal) -> str:
    text = format_number(value)
    return f"+{text}" if value > 0 else text


def _written(value: float) -> Decimal:
    """A threshold as the file wrote it: YAML's ``20`` may arrive as 20.0, shown as 20."""
    number = Decimal(str(value))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number

