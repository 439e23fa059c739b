"""The four steps of a report as plain functions: the one rendering path.

The ops (``ops.py``) call these one step each and attach Dagster metadata; ``preview`` calls
them in a row without Dagster. Either way a report window means the same thing: the same query
(or the same Gemini investigation for a prompt-only report), the same analysis, the same Block
Kit message, the same ``send_if`` decision and the same thread extras (SQL, overflow, chart, CSV).

No Dagster import: ``context`` is passed through to the analyst only, which records Gemini's
usage in the op's metadata when there is one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from report_pipelines.analysts.base import AnalystResource, InvestigationError
from report_pipelines.analysts.types import Analysis
from report_pipelines.conditions import evaluate_send_if
from report_pipelines.models import Report, ReportWindow
from report_pipelines.slack.attachments import csv_bytes, sql_thread_text, thread_messages_for_overflow
from report_pipelines.slack.chart import chart_png
from report_pipelines.slack.previews import write_preview
from report_pipelines.slack.threads import Attachment
from report_pipelines.slack.blocks import ReportMessage, bullets_overflow, build_report_message, validate_message
from report_pipelines.sql import is_sql
from report_pipelines.warehouses.base import QueryResult, WarehouseError, WarehouseResource

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class ReportFailed(RuntimeError):
    """The report cannot be produced for this window; the message says what to change."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata or {}


@dataclass
class ReportData:
    report: Report
    window: ReportWindow
    result: QueryResult
    # Prompt-only reports: the SQL the model ran, and the analysis written alongside it.
    sql_runs: list[str] = field(default_factory=list)
    prepared_analysis: Analysis | None = None


@dataclass
class AnalysedReport:
    data: ReportData
    analysis: Analysis


@dataclass
class FormattedReport:
    data: ReportData
    analysis: Analysis
    blocks: list
    text: str


@dataclass(frozen=True)
class ThreadExtras:
    """What follows a message in its thread: texts (mrkdwn) first, then files."""

    texts: list[str]
    files: list[Attachment]
    skipped: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.texts or self.files)


def fetch(
    report: Report,
    window: ReportWindow,
    *,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
    labels: dict[str, str],
    context: Any = None,
) -> ReportData:
    """Step 1: the report's rows for the window (its SQL, or Gemini's SQL for a prompt)."""
    if not is_sql(report.query):
        return _investigate(report, window, warehouse=warehouse, analyst=analyst, labels=labels, context=context)
    try:
        result = warehouse.run_query(report.query, window, labels=labels)
    except WarehouseError as err:
        raise ReportFailed(
            f"{report.name}: {err}", {"warehouse": warehouse.label, "window": window.describe()}
        ) from err
    return ReportData(report=report, window=window, result=result)


def _investigate(
    report: Report,
    window: ReportWindow,
    *,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
    labels: dict[str, str],
    context: Any,
) -> ReportData:
    """A plain-language report: Gemini writes read-only SQL against the warehouse (deep mode)."""
    if report.analysis.mode != "deep" or not analyst.can_investigate:
        missing = "set analysis.mode: deep" if report.analysis.mode != "deep" else "set GOOGLE_API_KEY"
        raise ReportFailed(
            f"{report.name}: the query is a plain-language prompt, not SQL; write SQL, or "
            f"{missing} so Gemini can answer it with read-only SQL"
        )
    last: dict[str, QueryResult] = {}

    def run_sql(sql: str):
        result = warehouse.run_query(sql, window, labels=labels)
        result.frame.attrs["truncated"] = result.truncated
        last["result"] = result
        return result.frame

    try:
        investigation = analyst.investigate(
            report.query, run_sql=run_sql, window=window, period=report.schedule.period,
            audience=report.analysis.audience, report_name=report.name, context=context,
            warehouse=warehouse.label,
        )  # fmt: skip
    except InvestigationError as err:
        raise ReportFailed(f"{report.name}: {err}") from err
    result = last["result"]
    result.frame = investigation.frame
    return ReportData(
        report=report, window=window, result=result,
        sql_runs=list(investigation.sql_runs), prepared_analysis=investigation.analysis,
    )  # fmt: skip


def analyse(data: ReportData, *, analyst: AnalystResource, context: Any = None) -> Analysis:
    """Step 2: exact metrics plus the summary, insights and recommendations."""
    if data.prepared_analysis is not None:
        return data.prepared_analysis
    report = data.report
    return analyst.analyze(
        data.result.frame,
        window=data.window,
        period=report.schedule.period,
        audience=report.analysis.audience,
        mode=report.analysis.mode,
        truncated=data.result.truncated,
        report_name=report.name,
        context=context,
    )


def render(data: ReportData, analysis: Analysis, *, run_url: str, now: dt.datetime | None = None) -> tuple[list, str]:
    """Step 3: the Block Kit message ``(blocks, text)``, checked against Slack's limits."""
    now = now or dt.datetime.now(ZoneInfo(data.report.schedule.timezone))
    blocks, text = build_report_message(
        ReportMessage(
            name=data.report.name,
            description=data.report.description,
            window=data.window,
            run_time=now,
            frame=data.result.frame,
            total_rows=data.result.row_count,
            truncated=data.result.truncated,
            analysis=analysis,
            run_url=run_url,
            generated_at=now,
        )
    )
    problems = validate_message(blocks, text)
    if problems:
        # The formatter guarantees the limits; reaching this is a bug worth a loud failure.
        raise ReportFailed("the rendered message breaks Slack's limits: " + "; ".join(problems))
    return blocks, text


def should_send(report: Report, analysis: Analysis) -> tuple[bool, str]:
    """Step 4's first question: does ``send_if`` let this window's message go out, and why."""
    return evaluate_send_if(report.send_if, analysis)


def thread_extras(data: ReportData, analysis: Analysis) -> ThreadExtras:
    """The replies under the message: the SQL a prompt-only report ran, insights that did not
    fit, then the chart and the CSV when the report asks for them."""
    report = data.report
    texts = sql_thread_text(data.sql_runs) if data.sql_runs else []
    for title, items in (("Insights", analysis.insights), ("Recommendations", analysis.recommendations)):
        overflow = bullets_overflow(items, title=title)
        if overflow:
            texts += thread_messages_for_overflow(f"{title} (continued)", overflow)
    stem = _UNSAFE_FILENAME.sub("-", f"{report.slug}_{data.window.partition_key}")
    files: list[Attachment] = []
    skipped: list[dict] = []
    if report.attachments.chart:
        png = chart_png(data.result.frame, analysis, title=report.name, timezone=report.schedule.timezone)
        if png is None:
            skipped.append({"kind": "chart", "skipped": "no trend or category to chart"})
        else:
            files.append(Attachment("chart", f"{stem}.png", png, f"{report.name} chart"))
    if report.attachments.csv:
        files.append(Attachment("csv", f"{stem}.csv", csv_bytes(data.result.frame), f"{report.name} data"))
    return ThreadExtras(texts=texts, files=files, skipped=skipped)


def write_preview_bundle(
    folder: Path, report: Report, partition_key: str, blocks: list, text: str, extras: ThreadExtras
) -> Path:
    """The message as Block Kit JSON at ``folder/<slug>/<window>.json``, its thread texts inside
    it, and the chart PNG and CSV beside it; returns the JSON's path."""
    payload: dict[str, Any] = {"destination": report.slack_config.destination, "text": text, "blocks": blocks}
    if extras.texts:
        payload["thread"] = extras.texts
    if extras.files:
        payload["attachments"] = [item.filename for item in extras.files]
    files = [(item.filename, item.content) for item in extras.files]
    return write_preview(folder, report.slug, partition_key, payload, files=files)
