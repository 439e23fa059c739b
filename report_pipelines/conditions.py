"""Conditional sends: decide from the exact metrics whether a window's report goes out."""

from __future__ import annotations

import operator
from decimal import Decimal

from report_pipelines.analysts.types import Analysis
from report_pipelines.models import SendIf
from report_pipelines.formatting import format_number

_OPERATORS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


class ConditionError(ValueError):
    """send_if names something the result does not have."""


def evaluate_send_if(send_if: SendIf | None, analysis: Analysis) -> tuple[bool, str]:
    """``(send, reason)``: the reason is shown in the run's metadata either way."""
    if send_if is None:
        return True, "no send_if condition"
    if send_if.min_rows is not None and analysis.row_count < send_if.min_rows:
        return False, f"{analysis.row_count} rows < min_rows {send_if.min_rows}: nothing sent"
    if send_if.metric is None:
        return True, f"{analysis.row_count} rows >= min_rows {send_if.min_rows}"
    metric = next((m for m in analysis.metrics if str(m.column) == send_if.metric), None)
    if metric is None:
        numeric = ", ".join(str(m.column) for m in analysis.metrics) or "none"
        raise ConditionError(
            f"send_if.metric {send_if.metric!r} is not a numeric column of the result "
            f"(numeric columns: {numeric})"
        )
    actual = {
        "total": metric.total, "average": metric.average, "min": metric.minimum,
        "max": metric.maximum, "count": metric.count,
    }[send_if.stat]
    label = f"{send_if.stat} of {send_if.metric}"
    if actual is None:
        return False, f"{label} has no value (no non-null rows): nothing sent"
    # Compare exactly: Decimal totals against the threshold as written, not as a float.
    threshold = Decimal(str(send_if.value))
    value = actual if isinstance(actual, Decimal) else Decimal(str(actual))
    met = _OPERATORS[send_if.op](value, threshold)
    verdict = "sent" if met else "nothing sent"
    return met, f"{label} = {format_number(actual)} {send_if.op} {format_number(threshold)} is {met}: {verdict}"
