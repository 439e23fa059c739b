"""The offline analyst's wording: summary, insights and recommendations built from exact figures.

Fixed rules turn :class:`Facts` into sentences, so the same figures always read the same.
Analysts get column names and every figure (:func:`analyst_text`); everyone else gets plain
sentences about the leading category and the trend (:func:`general_text`). Recommendations
point at what needs a look first (no rows, the row cap, non-finite values, a drop, one value
carrying the total) and otherwise suggest a comparison.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from report_pipelines.analysts import exact
from report_pipelines.analysts.types import CategoryTop, ColumnMetrics, Trend
from report_pipelines.formatting import format_number, plural

CONCENTRATION_SHARE = Decimal(50)
MAX_OTHER_TOTALS = 5

PERIOD_OPENER = {
    "day": "The day's",
    "week": "This week's",
    "month": "This month's",
    "period": "This period's",
}


@dataclass
class Facts:
    """The exact figures the sentences are built from, with the window as local dates."""

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


def analyst_text(facts: Facts) -> tuple[str, list[str], list[str]]:
    window = f"the {facts.period} {facts.window_start} → {facts.window_end}"
    primary = facts.primary
    if not facts.row_count:
        summary = f"No rows for {window}: the query returned an empty result."
    else:
        summary = f"{plural(facts.row_count, 'row')} for {window}."
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


def general_text(facts: Facts) -> tuple[str, list[str], list[str]]:
    opener = PERIOD_OPENER[facts.period]
    dates = f"({facts.window_start} → {facts.window_end})"
    primary = facts.primary
    if not facts.row_count:
        summary = (
            f"No rows came back for this {facts.period} {dates}, so there is nothing to report."
        )
    elif primary is None or primary.average is None:
        noun = plural(facts.row_count, "record")
        summary = f"{opener} report {dates} covers {noun}."
    else:
        summary = (
            f"{opener} {primary.column} {dates} came to {format_number(primary.total)} "
            f"across {plural(facts.row_count, 'record')}."
        )
    summary += _truncation_sentence(facts)

    insights: list[str] = []
    if facts.categories and facts.categories[0].values:
        insights.append(_general_category_sentence(facts.categories[0], primary, facts))
    if facts.trend is not None:
        insights.append(_general_trend_sentence(facts.trend, facts.period))
    recommendations = _recommendations(facts, general=True)
    return summary, insights, recommendations


def _truncation_sentence(facts: Facts) -> str:
    if not facts.truncated:
        return ""
    return (
        f" Only the first {format_number(facts.row_count)} rows were analysed because the "
        "result hit the row cap."
    )


def _analyst_category_sentence(
    top: CategoryTop, primary: ColumnMetrics | None, facts: Facts
) -> str:
    (leader, lead), *rest = top.values
    if top.distinct == 1:
        return f"{leader} is the only {top.column} value."
    if top.measure == "rows":
        share = exact.share(lead, facts.row_count)
        sentence = f"By {top.column}, {leader} had the most rows: {format_number(lead)}"
        sentence += f" ({format_number(share)}% of rows)" if share is not None else ""
    else:
        share = exact.share(lead, primary.total) if primary is not None else None
        sentence = f"By {top.column}, {leader} led {top.measure} with {format_number(lead)}"
        sentence += f" ({format_number(share)}% of the total)" if share is not None else ""
    followers = [f"{label} ({format_number(value)})" for label, value in rest]
    if followers:
        sentence += ", followed by " + " and ".join(followers)
    return f"{sentence}; {format_number(top.distinct)} distinct values."


def _general_category_sentence(
    top: CategoryTop, primary: ColumnMetrics | None, facts: Facts
) -> str:
    leader, lead = top.values[0]
    if top.measure == "rows":
        return (
            f"{leader} came up most often: {format_number(lead)} of "
            f"{plural(facts.row_count, 'record')}."
        )
    share = exact.share(lead, primary.total) if primary is not None else None
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
    change = exact.percent(abs(exact.fraction(last) - exact.fraction(first)), abs(exact.fraction(first)))
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
    tail = f", and {plural(more, 'more column')}" if more > 0 else ""
    return f"Other totals: {', '.join(parts)}{tail}."


def _recommendations(facts: Facts, *, general: bool) -> list[str]:
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
                f"Fix or filter the {plural(count, 'non-finite value')} in {column} at the "
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


def _concentration(facts: Facts) -> tuple[CategoryTop, Decimal] | None:
    primary = facts.primary
    if primary is None:
        return None
    for top in facts.categories:
        if top.measure == "rows" or top.distinct < 2 or not top.values:
            continue
        share = exact.share(top.values[0][1], primary.total)
        if share is not None and share > CONCENTRATION_SHARE:
            return top, share
    return None


def _when(moment: dt.date | dt.datetime) -> str:
    if not isinstance(moment, dt.datetime):
        return moment.isoformat()
    if moment.second or moment.microsecond:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")
