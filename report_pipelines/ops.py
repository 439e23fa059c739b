"""The four ops every report job shares. They orchestrate and attach metadata; the logic lives in
the warehouse, analyst and Slack modules."""

# No "from __future__ import annotations": Dagster reads these annotations at definition time.


import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import dagster as dg

from report_pipelines.analysts.base import AnalystResource
from report_pipelines.analysts.types import Analysis
from report_pipelines.models import Report, ReportWindow
from report_pipelines.conditions import ConditionError, evaluate_send_if
from report_pipelines.names import (
    TAG_DELIVERY,
    TAG_FORCE,
    TAG_SLACK_CHANNEL,
    TAG_SLACK_TS,
    webserver_url,
)
from report_pipelines.report_store import ReportNotFound, SecretKeyError
from report_pipelines.resources import ReportResource, ReportStoreResource, SlackResource
from report_pipelines.slack.blocks import ReportMessage, build_report_message, validate_message
from report_pipelines.slack.delivery import SlackDeliveryError
from report_pipelines.warehouses.base import QueryResult, WarehouseError, WarehouseResource


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


# Slack failures worth an op retry: a rate limit that outlasted the client's own retries, or a
# workspace briefly unreachable. Everything else needs a person.
RETRYABLE_CODES = frozenset({"ratelimited"})


def window_for(context: dg.OpExecutionContext, report: Report) -> ReportWindow:
    if not context.has_partition_key:
        raise dg.Failure(
            description=(
                "a report run needs a window: launch it with a partition (pick one in the launchpad,"
                " or `report-pipelines run SLUG --partition KEY`)"
            )
        )
    window = context.partition_time_window
    return ReportWindow(
        partition_key=context.partition_key,
        start=window.start,
        end=window.end,
        timezone=report.schedule.timezone,
    )


@dg.op(
    description="Run the report's SQL for the run's window against the warehouse.",
    pool="report_pipelines_warehouse",
)
def query_warehouse(
    context: dg.OpExecutionContext,
    report: ReportResource,
    report_store: ReportStoreResource,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
) -> ReportData:
    try:
        current = report_store.get_store().get(report.report_id)
    except ReportNotFound as err:
        raise dg.Failure(
            description=f"report {report.slug} (id {report.report_id}) was deleted from the report store"
        ) from err
    window = window_for(context, current)
    labels = {"report": current.slug, "dagster_run": context.run_id}
    # Imported here: sqlglot and google-genai are only needed once a run looks at its query.
    from report_pipelines.analysts.gemini import is_sql

    if not is_sql(current.query):
        return _investigate(context, current, window, warehouse, analyst, labels)
    try:
        result = warehouse.run_query(current.query, window, labels=labels)
    except WarehouseError as err:
        raise dg.Failure(
            description=f"{current.name}: {err}",
            metadata={"warehouse": warehouse.label, "window": window.describe()},
        ) from err
    context.add_output_metadata(
        {
            "window": window.describe(),
            "rows": result.row_count,
            "truncated": result.truncated,
            "row_cap": result.row_cap,
            "columns": ", ".join(str(c) for c in result.frame.columns),
            "window_parameters": ", ".join(result.parameters_used) or "none",
            "warehouse": result.warehouse,
            **result.metadata,
        }
    )
    return ReportData(report=current, window=window, result=result)


def _investigate(
    context: dg.OpExecutionContext,
    report: Report,
    window: ReportWindow,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
    labels: dict,
) -> ReportData:
    """A plain-language report: Gemini writes read-only SQL against the warehouse (deep mode)."""
    from report_pipelines.analysts.gemini import GeminiAnalystResource, InvestigationError

    if report.analysis.mode != "deep" or not isinstance(analyst, GeminiAnalystResource):
        missing = "set analysis.mode: deep" if report.analysis.mode != "deep" else "set GOOGLE_API_KEY"
        raise dg.Failure(
            description=(
                f"{report.name}: the query is a plain-language prompt, not SQL; write SQL, or "
                f"{missing} so Gemini can answer it with read-only SQL"
            )
        )
    last: dict = {}

    def run_sql(sql: str):
        result = warehouse.run_query(sql, window, labels=labels)
        frame = result.frame
        frame.attrs["truncated"] = result.truncated
        last["result"] = result
        return frame

    try:
        investigation = analyst.investigate(
            report.query, run_sql=run_sql, window=window, period=report.schedule.period,
            audience=report.analysis.audience, report_name=report.name, context=context,
            warehouse=warehouse.label,
        )
    except InvestigationError as err:
        raise dg.Failure(description=f"{report.name}: {err}") from err
    result = last["result"]
    result.frame = investigation.frame
    context.add_output_metadata(
        {
            "window": window.describe(),
            "rows": result.row_count,
            "truncated": result.truncated,
            "sql_runs": dg.MetadataValue.md(
                "\n\n".join(f"```sql\n{sql}\n```" for sql in investigation.sql_runs)
            ),
            "warehouse": result.warehouse,
        }
    )
    return ReportData(
        report=report, window=window, result=result,
        sql_runs=list(investigation.sql_runs), prepared_analysis=investigation.analysis,
    )


@dg.op(
    description="Summarise the result: exact metrics plus insights and recommendations.",
    pool="report_pipelines_analyst",
)
def analyze_results(
    context: dg.OpExecutionContext, data: ReportData, analyst: AnalystResource
) -> AnalysedReport:
    report = data.report
    if data.prepared_analysis is not None:
        context.add_output_metadata({"analyst": data.prepared_analysis.analyst, "summary": data.prepared_analysis.summary})
        return AnalysedReport(data=data, analysis=data.prepared_analysis)
    analysis = analyst.analyze(
        data.result.frame,
        window=data.window,
        period=report.schedule.period,
        audience=report.analysis.audience,
        mode=report.analysis.mode,
        truncated=data.result.truncated,
        report_name=report.name,
        context=context,
    )
    context.add_output_metadata(
        {
            "analyst": analysis.analyst,
            "summary": analysis.summary,
            "insights": len(analysis.insights),
            "notes": "\n".join(analysis.notes) or "none",
        }
    )
    return AnalysedReport(data=data, analysis=analysis)


@dg.op(description="Render the Slack Block Kit message (pure formatting, Slack's limits held).")
def format_slack_message(
    context: dg.OpExecutionContext, analysed: AnalysedReport
) -> FormattedReport:
    data = analysed.data
    zone = ZoneInfo(data.report.schedule.timezone)
    now = dt.datetime.now(zone)
    blocks, text = build_report_message(
        ReportMessage(
            name=data.report.name,
            description=data.report.description,
            window=data.window,
            run_time=now,
            frame=data.result.frame,
            total_rows=data.result.row_count,
            truncated=data.result.truncated,
            analysis=analysed.analysis,
            run_url=f"{webserver_url()}/runs/{context.run_id}",
            generated_at=now,
        )
    )
    problems = validate_message(blocks, text)
    if problems:
        # The formatter guarantees the limits; reaching this is a bug worth a loud failure.
        raise dg.Failure(description="the rendered message breaks Slack's limits: " + "; ".join(problems))
    context.add_output_metadata({"blocks": len(blocks), "fallback_text": text})
    return FormattedReport(data=data, analysis=analysed.analysis, blocks=blocks, text=text)


@dg.op(
    description="Post the message to Slack once per window, or write a preview without a workspace.",
    pool="report_pipelines_slack",
    # 429s are retried inside the Slack client; this covers failures that may succeed later
    # (a workspace briefly unreachable). The delivery ledger makes a retry safe.
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
)
def post_to_slack(
    context: dg.OpExecutionContext,
    message: FormattedReport,
    slack: SlackResource,
    report_store: ReportStoreResource,
) -> None:
    report = message.data.report
    analysis = message.analysis
    try:
        send, reason = evaluate_send_if(report.send_if, analysis)
    except ConditionError as err:
        raise dg.Failure(description=f"{report.name}: {err}") from err
    if not send:
        context.instance.add_run_tags(context.run_id, {TAG_DELIVERY: "skipped"})
        context.log.info(f"send_if: {reason}")
        context.add_output_metadata({"delivery": "skipped", "detail": reason})
        return
    force = context.run.tags.get(TAG_FORCE) == "true"
    store = report_store.get_store()
    try:
        delivery = slack.deliver(
            store, report, message.data.window.partition_key, message.blocks, message.text,
            run_id=context.run_id, force=force,
        )
    except (SlackDeliveryError, SecretKeyError, ReportNotFound) as err:
        raise dg.Failure(
            description=f"{report.name}: {err}",
            metadata={"destination": report.slack_config.destination or "none"},
            # A rejected token or a missing channel will not fix itself between retries.
            allow_retries=not isinstance(err, SlackDeliveryError) or err.code in RETRYABLE_CODES,
        ) from err
    try:
        extras = slack.post_extras(
            store, report, delivery, message.data.window.partition_key,
            frame=message.data.result.frame, analysis=analysis, sql_runs=message.data.sql_runs,
        )
    except SlackDeliveryError as err:
        # The main message is out and recorded; a retry of this step finishes the thread.
        raise dg.Failure(
            description=f"{report.name}: the message was posted (ts {delivery.ts}) but its thread "
            f"replies failed: {err}",
            allow_retries=True,
        ) from err
    metadata: dict = {"delivery": delivery.status, "detail": delivery.detail}
    if extras:
        metadata["thread_extras"] = dg.MetadataValue.json(extras)
    if report.send_if is not None:
        metadata["send_if"] = reason
    tags = {TAG_DELIVERY: delivery.status}
    if delivery.channel:
        metadata.update({"slack_channel": delivery.channel, "slack_ts": delivery.ts or ""})
        tags.update({TAG_SLACK_CHANNEL: delivery.channel, TAG_SLACK_TS: delivery.ts or ""})
    if delivery.preview_path:
        metadata["preview_path"] = dg.MetadataValue.path(delivery.preview_path)
        metadata["preview"] = dg.MetadataValue.md(preview_markdown(message.blocks))
    context.instance.add_run_tags(context.run_id, tags)
    context.log.info(delivery.detail)
    context.add_output_metadata(metadata)


def preview_markdown(blocks: list[dict]) -> str:
    """A readable markdown rendering of Block Kit, for the run's metadata panel."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"## {block['text']['text']}")
        elif kind == "section":
            if "text" in block:
                lines.append(block["text"]["text"])
            for field in block.get("fields", []):
                lines.append(field["text"])
        elif kind == "context":
            lines.append(" · ".join(element.get("text", "") for element in block.get("elements", [])))
        elif kind == "divider":
            lines.append("---")
        lines.append("")
    return "\n".join(lines)
