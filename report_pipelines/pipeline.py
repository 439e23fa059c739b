"""The four steps of a report as plain functions: the one rendering path.

The ops (``ops.py``) call these one step each and attach Dagster metadata; ``preview`` calls
them in a row without Dagster. Either way a report window means the same thing: the same query
(or the same Gemini investigation for a prompt-only report), the same analysis, the same Block
Kit message, the same ``send_if`` decision and the same thread extras (SQL, overflow, chart, CSV).

No Dagster import: ``context`` is passed through to the analyst only, which records Gemini's
usage in the op's metadata when there is one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from report_pipelines.analysts import figures as figure_check
from report_pipelines.analysts import periods, statistical
from report_pipelines.analysts.base import AnalystResource, InvestigationError
from report_pipelines.analysts.types import AnomalyCheck, Analysis, Comparison, TargetProgress
from report_pipelines.conditions import SendContext, evaluate_send_if
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
    # The statement behind ``result`` (the report's SQL, or Gemini's last successful one).
    frame_sql: str | None = None
    signals: Signals | None = None


@dataclass
class Signals:
    """This window against other windows, computed from exact figures before any analysis."""

    comparisons: list[Comparison] = field(default_factory=list)
    anomaly: AnomalyCheck | None = None
    targets: list[TargetProgress] = field(default_factory=list)
    send: SendContext = field(default_factory=SendContext)
    notes: list[str] = field(default_factory=list)


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
    history: Any = None,
) -> ReportData:
    """Step 1: the report's rows for the window (its SQL, or Gemini's SQL for a prompt), then
    the window against earlier ones (``compare``, ``anomaly``, ``targets``, ``send_if``).

    ``history`` (a :class:`~report_pipelines.store.history.WindowHistory`) keeps each window's
    figures; without it earlier windows are queried each time and ``changed`` sees no delivery.
    """
    if not is_sql(report.query):
        data = _investigate(report, window, warehouse=warehouse, analyst=analyst, labels=labels, context=context)
    else:
        try:
            result = warehouse.run_query(report.query, window, labels=labels)
        except WarehouseError as err:
            raise ReportFailed(
                f"{report.name}: {err}", {"warehouse": warehouse.label, "window": window.describe()}
            ) from err
        data = ReportData(report=report, window=window, result=result, frame_sql=report.query)
    data.signals = _signals(data, warehouse=warehouse, labels=labels, history=history)
    return data


def _signals(data: ReportData, *, warehouse: WarehouseResource, labels: dict[str, str], history: Any) -> Signals:
    report, window, frame = data.report, data.window, data.result.frame
    fresh = _check_freshness(report, window, frame)
    current = periods.figures_of_frame(frame)
    fingerprint = periods.result_fingerprint(frame)
    last_delivered = None
    if history is not None:
        record = history.last_delivered(report.id, window.start)
        last_delivered = (record.partition_key, record.result_hash) if record else None
        history.record(report.id, window.partition_key, window.start, current.to_json(), fingerprint)
    signals = Signals()
    earlier = _EarlierWindows(data, warehouse=warehouse, labels=labels, history=history, notes=signals.notes)
    cron = report.schedule.cron_schedule
    for against in ("previous", "year_ago"):
        if getattr(report.compare, against):
            before = periods.earlier_window(window, cron, against)
            figures = earlier.figures(before, fresh_query=True)
            if figures is not None:
                signals.comparisons.append(
                    periods.compare(current, figures, against=against, period=report.schedule.period, window=before)
                )
    previous = previous_key = None
    if report.send_if is not None and report.send_if.needs_previous:
        before = periods.earlier_window(window, cron, "previous")
        previous, previous_key = earlier.figures(before), before.partition_key
    if report.anomaly is not None:
        spec = report.anomaly
        past = [earlier.figures(item) for item in periods.windows_before(window, cron, spec.windows)]
        try:
            signals.anomaly = periods.check_anomaly(
                current, [item for item in past if item is not None], metric=spec.metric, stat=spec.stat,
                windows=spec.windows, threshold=spec.threshold,
            )  # fmt: skip
        except periods.UnknownMetric as err:
            raise ReportFailed(f"{report.name}: anomaly.metric {err}") from err
    for index, target in enumerate(report.targets):
        try:
            signals.targets.append(periods.progress(current, target.metric, target.stat, target.value))
        except periods.UnknownMetric as err:
            raise ReportFailed(f"{report.name}: targets[{index}].metric {err}") from err
    signals.send = SendContext(
        fingerprint=fingerprint, previous=previous, previous_key=previous_key, last_delivered=last_delivered, fresh=fresh
    )
    return signals


class _EarlierWindows:
    """Figures of earlier windows: from the history table, or by running the same query."""

    def __init__(self, data: ReportData, *, warehouse: WarehouseResource, labels: dict[str, str], history: Any,
                 notes: list[str]):
        self.data, self.warehouse, self.labels, self.history, self.notes = data, warehouse, labels, history, notes
        self.cache: dict[str, periods.WindowFigures | None] = {}

    def figures(self, window: ReportWindow, *, fresh_query: bool = False) -> periods.WindowFigures | None:
        key = window.partition_key
        if key in self.cache and not (fresh_query and self.cache[key] is None):
            return self.cache[key]
        if not fresh_query and self.history is not None:
            stored = self.history.get(self.data.report.id, [key]).get(key)
            if stored is not None:
                self.cache[key] = periods.WindowFigures.from_json(stored.figures)
                return self.cache[key]
        sql = self.data.frame_sql or self.data.report.query
        try:
            result = self.warehouse.run_query(sql, window, labels=self.labels)
        except WarehouseError as err:
            # Visible, not fatal: the report still goes out, saying which window could not be read.
            self.notes.append(f"The window {window.describe()} could not be queried for comparison: {err}")
            self.cache[key] = None
            return None
        figures = periods.figures_of_frame(result.frame)
        if self.history is not None:
            self.history.record(self.data.report.id, key, window.start, figures.to_json(),
                                periods.result_fingerprint(result.frame))
        self.cache[key] = figures
        return figures


def _check_freshness(report: Report, window: ReportWindow, frame) -> list[str]:
    """Every ``send_if.fresh`` check; stale data fails the run (the owner is told) instead of
    sending an old picture."""
    if report.send_if is None:
        return []
    details = []
    for block in report.send_if.walk():
        if block.fresh is None:
            continue
        try:
            ok, detail = periods.freshness(frame, block.fresh.column, block.fresh.seconds, window)
        except periods.UnknownMetric as err:
            raise ReportFailed(f"{report.name}: {err}") from err
        if not ok:
            raise ReportFailed(
                f"{report.name}: stale data, nothing sent: {detail}",
                {"send_if.fresh": f"{block.fresh.column} within {block.fresh.within}"},
            )
        details.append(detail)
    return details


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
    try:
        investigation, result = _explore(report.query, report, window, warehouse=warehouse, analyst=analyst,
                                         labels=labels, context=context)
    except InvestigationError as err:
        raise ReportFailed(f"{report.name}: {err}") from err
    result.frame = investigation.frame
    return ReportData(
        report=report, window=window, result=result,
        sql_runs=list(investigation.sql_runs), prepared_analysis=investigation.analysis,
        frame_sql=investigation.sql,
    )  # fmt: skip


def _explore(question: str, report: Report, window: ReportWindow, *, warehouse: WarehouseResource,
             analyst: AnalystResource, labels: dict[str, str], context: Any):
    """Gemini answers ``question`` with read-only SQL bound to ``window``; the investigation and
    the last successful query's result."""
    last: dict[str, QueryResult] = {}

    def run_sql(sql: str):
        result = warehouse.run_query(sql, window, labels=labels)
        result.frame.attrs["truncated"] = result.truncated
        last["result"] = result
        return result.frame

    investigation = analyst.investigate(
        question, run_sql=run_sql, window=window, period=report.schedule.period,
        audience=report.analysis.audience, report_name=report.name, context=context, warehouse=warehouse.label,
    )  # fmt: skip
    return investigation, last.get("result")


def analyse(data: ReportData, *, analyst: AnalystResource, context: Any = None) -> Analysis:
    """Step 2: exact metrics plus the summary, insights and recommendations.

    The window's comparisons, anomaly check and target progress are attached as exact figures
    (and given to the model as such). Every figure in AI-written text is then checked against
    what the run computed; sentences with figures found nowhere are dropped
    (:mod:`~report_pipelines.analysts.figures`).
    """
    report = data.report
    signals = data.signals or Signals()
    evidence = None

    def finished(analysis: Analysis) -> Analysis:
        analysis = with_signals(analysis, signals)
        analysis.notes.extend(note for note in signals.notes if note not in analysis.notes)
        return analysis

    def unsupported(analysis: Analysis) -> list[str]:
        # The evidence rests on the exact parts only (metrics, categories, trend, notes), which
        # every answer of the model shares: it is built once and serves the final check too.
        nonlocal evidence
        evidence = evidence or _evidence(data, finished(analysis))
        return figure_check.unsupported_figures(analysis, evidence)

    if data.prepared_analysis is not None:
        analysis = data.prepared_analysis
    else:
        analysis = analyst.analyze(
            data.result.frame,
            window=data.window,
            period=report.schedule.period,
            audience=report.analysis.audience,
            mode=report.analysis.mode,
            truncated=data.result.truncated,
            report_name=report.name,
            context=context,
            facts=signal_lines(signals),
            unsupported=unsupported,
        )
    analysis = finished(analysis)
    if not analysis.analyst.startswith("statistical"):
        analysis = _checked(analysis, evidence or _evidence(data, analysis), data.result.frame, report, data.window,
                            truncated=data.result.truncated)
    return analysis


def _checked(analysis: Analysis, evidence, frame, report: Report, window: ReportWindow, *,
             truncated: bool = False) -> Analysis:
    """``analysis`` without its unsupported AI sentences (``figure_check`` says what went); a
    summary left with no figure gives way to the statistical one, computed only then."""
    analysis, check = figure_check.verify_analysis(analysis, evidence, fallback_summary="")
    if check.summary_replaced:
        analysis.summary = statistical.analyze(
            frame, window=window, period=report.schedule.period, audience=report.analysis.audience,
            truncated=truncated, report_name=report.name,
        ).summary  # fmt: skip
    analysis.figure_check = check
    return analysis


def with_signals(analysis: Analysis, signals: Signals) -> Analysis:
    return dataclasses.replace(
        analysis, comparisons=list(signals.comparisons), anomaly=signals.anomaly, targets=list(signals.targets),
        notes=list(analysis.notes),
    )  # fmt: skip


def signal_lines(signals: Signals) -> list[str]:
    """The comparisons, anomaly and targets as exact-figure lines for the model's prompt."""
    return periods.signal_lines(signals.comparisons, signals.anomaly, signals.targets)


def _evidence(data: ReportData, analysis: Analysis):
    numbers, percents = [], []
    for comparison in analysis.comparisons:
        numbers.append(comparison.rows)
        for delta in comparison.deltas:
            numbers.extend(value for value in (delta.current, delta.earlier, delta.change) if value is not None)
            if delta.change_pct is not None:
                percents.append(delta.change_pct)
    check = analysis.anomaly
    if check is not None:
        numbers.extend(value for value in (check.value, check.median, check.mad, check.low, check.high) if value is not None)
        numbers.extend((check.windows, check.history))
    for target in analysis.targets:
        numbers.extend(value for value in (target.value, target.target) if value is not None)
        if target.percent is not None:
            percents.append(target.percent)
    zone = ZoneInfo(data.window.timezone)
    return figure_check.evidence_from(
        analysis, data.result.frame,
        window_start=data.window.start.astimezone(zone).date(), window_end=data.window.end.astimezone(zone).date(),
        extra_numbers=numbers, extra_percents=percents,
        labels=[data.report.name, data.report.description],
    )  # fmt: skip


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
            report_id=data.report.id,
        )
    )
    problems = validate_message(blocks, text)
    if problems:
        # The formatter guarantees the limits; reaching this is a bug worth a loud failure.
        raise ReportFailed("the rendered message breaks Slack's limits: " + "; ".join(problems))
    return blocks, text


def should_send(report: Report, analysis: Analysis, data: ReportData | None = None) -> tuple[bool, str]:
    """Step 4's first question: does ``send_if`` let this window's message go out, and why."""
    signals = data.signals if data is not None else None
    return evaluate_send_if(report.send_if, analysis, signals.send if signals else None)


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


@dataclass
class Answer:
    """The reply to a question asked in a report message's thread."""

    text: str
    sql_runs: list[str]
    analyst: str
    figure_check: Any = None


MAX_QUESTION_CHARS = 2000


def answer_question(
    report: Report,
    window: ReportWindow,
    question: str,
    *,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
    labels: dict[str, str],
    context: Any = None,
) -> Answer:
    """Answer ``question`` from the data of ``window`` of ``report``.

    With Gemini, the model explores the warehouse through the same sandboxed, read-only
    ``run_sql`` tool a prompt-only report uses, bound to this window, and every figure of its
    answer is checked against the rows its queries returned. Without it, the exact statistics
    of the report's own query answer what they can, and the reply says what they cannot.
    """
    question = question.strip()[:MAX_QUESTION_CHARS]
    zone = ZoneInfo(window.timezone)
    if analyst.can_investigate:
        prompt = (
            f"{question}\n\n(Asked in the thread of the report {report.name!r}, window {window.describe()}. "
            f"The report runs this SQL for its window:\n{report.query})"
        )
        try:
            investigation, _ = _explore(prompt, report, window, warehouse=warehouse, analyst=analyst, labels=labels,
                                        context=context)
        except InvestigationError as err:
            return _statistical_answer(report, window, question, warehouse=warehouse, labels=labels,
                                       why=f"the AI analyst could not answer ({err})")
        evidence = figure_check.evidence_from(
            investigation.analysis, investigation.frame, window_start=window.start.astimezone(zone).date(),
            window_end=window.end.astimezone(zone).date(), labels=[report.name, question],
        )  # fmt: skip
        analysis = _checked(investigation.analysis, evidence, investigation.frame, report, window)
        lines = [analysis.summary, *(f"• {item}" for item in analysis.insights)]
        lines += [f"_{note}_" for note in analysis.notes]
        return Answer("\n".join(line for line in lines if line), list(investigation.sql_runs), analysis.analyst,
                      analysis.figure_check)
    return _statistical_answer(report, window, question, warehouse=warehouse, labels=labels,
                               why="no AI analyst is configured (GOOGLE_API_KEY is not set)")


def _statistical_answer(report: Report, window: ReportWindow, question: str, *, warehouse: WarehouseResource,
                        labels: dict[str, str], why: str) -> Answer:
    try:
        result = warehouse.run_query(report.query, window, labels=labels)
    except WarehouseError as err:
        raise ReportFailed(f"{report.name}: {err}") from err
    exact = statistical.analyze(result.frame, window=window, period=report.schedule.period,
                                audience=report.analysis.audience, truncated=result.truncated, report_name=report.name)
    lines = [
        f"I can only answer from this window's exact figures: {why}, so I cannot read the question itself.",
        exact.summary,
        *(f"• {item}" for item in exact.insights),
        "Ask again once Gemini is configured, or run `report-pipelines preview "
        f"{report.slug} --partition {window.partition_key}` for the whole message.",
    ]
    return Answer("\n".join(line for line in lines if line), [report.query], exact.analyst)


def destination_content(data: ReportData, analysis: Analysis, *, run_url: str):
    """What webhooks, Teams and email receive for this window (the full CSV; the chart when asked)."""
    from report_pipelines.destinations.payload import ReportContent

    report = data.report
    chart = None
    if report.attachments.chart:
        chart = chart_png(data.result.frame, analysis, title=report.name, timezone=report.schedule.timezone)
    return ReportContent(report=report, window=data.window, analysis=analysis, frame=data.result.frame,
                         run_url=run_url, csv=csv_bytes(data.result.frame), chart=chart)
