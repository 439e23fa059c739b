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
attaches the metadata. The figures come from :mod:`~report_pipelines.analysts.profile` (on the
arithmetic of :mod:`~report_pipelines.analysts.exact`), the wording from
:mod:`~report_pipelines.analysts.narrative`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from report_pipelines.analysts.narrative import PERIOD_OPENER, Facts, analyst_text, general_text
from report_pipelines.analysts.profile import (
    category_top,
    primary_metric,
    profile_columns,
    trend_of,
)
from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow

ANALYST_NAME = "statistical"


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
    period = period if period in PERIOD_OPENER else "period"
    general = audience == "general"
    row_count = len(frame)
    numeric, texts, times, notes = profile_columns(frame)

    metrics = [column.metrics() for column in numeric]
    primary_index = primary_metric(numeric)
    primary = numeric[primary_index] if primary_index is not None else None
    measured = primary if primary is not None and primary.usable else None

    categories = [category_top(text, measured) for text in texts]
    trend = trend_of(times, measured)

    facts = Facts(
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
        summary, insights, recommendations = general_text(facts)
    else:
        summary, insights, recommendations = analyst_text(facts)
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


def _local_date(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()

