"""The four ops every report job shares. Each calls one step of ``pipeline.py`` (the same path
``preview`` takes) and records what it did in the run's metadata and tags."""

# No "from __future__ import annotations": Dagster reads these annotations at definition time.

from contextlib import contextmanager

import dagster as dg

from report_pipelines import pipeline
from report_pipelines.analysts.base import AnalystResource
from report_pipelines.conditions import ConditionError
from report_pipelines.formatting import json_figure
from report_pipelines.destinations.deliver import DestinationsFailed
from report_pipelines.destinations.deliver import deliver as deliver_destinations
from report_pipelines.models import Report, ReportWindow
from report_pipelines.names import (
    POOL_ANALYST, POOL_SLACK, POOL_WAREHOUSE, TAG_DELIVERY, TAG_FORCE, TAG_SLACK_CHANNEL, TAG_SLACK_TS, webserver_url,
)
from report_pipelines.pipeline import AnalysedReport, FormattedReport, ReportData, ReportFailed
from report_pipelines.resources import ReportResource, ReportStoreResource, SlackResource
from report_pipelines.slack.delivery import SlackDeliveryError
from report_pipelines.slack.markdown import blocks_to_markdown
from report_pipelines.store import DeliveryInDoubt, NotFound, SecretKeyError
from report_pipelines.warehouses.base import WarehouseResource

# Slack failures worth an op retry: a rate limit that outlasted the client's own retries.
# Everything else (a revoked token, a missing channel) needs a person.
RETRYABLE_CODES = frozenset({"ratelimited"})
SCHEDULE_TAG = "dagster/schedule_name"
# Delivery outcomes after which the window counts as delivered (``send_if.changed`` compares with it).
DELIVERED = frozenset({"posted", "updated", "already_delivered", "preview"})


@contextmanager
def failing_loudly():
    """A step that cannot produce its report fails the run with the reason, not a traceback."""
    try:
        yield
    except ReportFailed as err:
        raise dg.Failure(description=str(err), metadata=err.metadata) from err


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
        partition_key=context.partition_key, start=window.start, end=window.end, timezone=report.schedule.timezone
    )


@dg.op(
    description="Run the report's SQL for the run's window against the warehouse.",
    pool=POOL_WAREHOUSE,
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
    except NotFound as err:
        raise dg.Failure(
            description=f"report {report.slug} (id {report.report_id}) was deleted from the report store"
        ) from err
    window = window_for(context, current)
    labels = {"report": current.slug, "dagster_run": context.run_id}
    with failing_loudly():
        data = pipeline.fetch(
            current, window, warehouse=warehouse, analyst=analyst, labels=labels, context=context,
            history=report_store.get_history(),
        )  # fmt: skip
    result = data.result
    metadata = {
        "window": window.describe(),
        "rows": result.row_count,
        "truncated": result.truncated,
        "row_cap": result.row_cap,
        "columns": ", ".join(str(c) for c in result.frame.columns),
        "window_parameters": ", ".join(result.parameters_used) or "none",
        "warehouse": result.warehouse,
        **result.metadata,
    }
    metadata.update(signal_metadata(data.signals))
    if data.sql_runs:
        metadata["sql_runs"] = dg.MetadataValue.md("\n\n".join(f"```sql\n{sql}\n```" for sql in data.sql_runs))
    context.add_output_metadata(metadata)
    return data


@dg.op(
    description="Summarise the result: exact metrics plus insights and recommendations.",
    pool=POOL_ANALYST,
)
def analyze_results(context: dg.OpExecutionContext, data: ReportData, analyst: AnalystResource) -> AnalysedReport:
    analysis = pipeline.analyse(data, analyst=analyst, context=context)
    metadata = {
        "analyst": analysis.analyst,
        "summary": analysis.summary,
        "insights": len(analysis.insights),
        "notes": "\n".join(analysis.notes) or "none",
    }
    metadata.update(figure_check_metadata(analysis.figure_check))
    context.add_output_metadata(metadata)
    return AnalysedReport(data=data, analysis=analysis)


def figure_check_metadata(check) -> dict:
    """What the figure check of AI text did (``analysts.figures.FigureCheck``), as run metadata."""
    if check is None:
        return {}
    return {
        "figures_checked": check.checked,
        "figures_unsupported": len(check.unsupported),
        "unsupported_figures": ", ".join(check.unsupported) or "none",
        "removed_sentences": dg.MetadataValue.json(list(check.removed)),
        "summary_replaced": check.summary_replaced,
    }


def signal_metadata(signals) -> dict:
    """Comparisons, the anomaly check and target progress as run metadata."""
    if signals is None:
        return {}
    metadata: dict = {}
    for comparison in signals.comparisons:
        metadata[f"compare_{comparison.against}"] = dg.MetadataValue.json({
            "window": comparison.window, "partition_key": comparison.partition_key, "rows": comparison.rows,
            "deltas": [
                {"metric": d.metric, "stat": d.stat, "current": json_figure(d.current), "earlier": json_figure(d.earlier),
                 "change": json_figure(d.change), "change_pct": json_figure(d.change_pct), "direction": d.direction}
                for d in comparison.deltas
            ],
        })  # fmt: skip
    check = signals.anomaly
    if check is not None:
        metadata["anomaly"] = dg.MetadataValue.json({
            "metric": check.metric, "stat": check.stat, "value": json_figure(check.value), "flagged": check.flagged,
            "median": json_figure(check.median), "mad": json_figure(check.mad), "low": json_figure(check.low),
            "high": json_figure(check.high), "history": check.history, "windows": check.windows, "reason": check.reason,
        })  # fmt: skip
    if signals.targets:
        metadata["targets"] = dg.MetadataValue.json([
            {"metric": t.metric, "stat": t.stat, "value": json_figure(t.value), "target": json_figure(t.target),
             "percent": json_figure(t.percent)}
            for t in signals.targets
        ])  # fmt: skip
    if signals.send.fresh:
        metadata["freshness"] = "\n".join(signals.send.fresh)
    return metadata


@dg.op(description="Render the Slack Block Kit message (pure formatting, Slack's limits held).")
def format_slack_message(context: dg.OpExecutionContext, analysed: AnalysedReport) -> FormattedReport:
    with failing_loudly():
        blocks, text = pipeline.render(
            analysed.data, analysed.analysis, run_url=f"{webserver_url()}/runs/{context.run_id}"
        )
    context.add_output_metadata({"blocks": len(blocks), "fallback_text": text})
    return FormattedReport(data=analysed.data, analysis=analysed.analysis, blocks=blocks, text=text)


@dg.op(
    description="Post the message to Slack once per window, or write a preview without a workspace.",
    pool=POOL_SLACK,
    # 429s are retried inside the Slack client; this covers failures that may succeed later
    # (a workspace briefly unreachable). The delivery ledger makes a retry safe.
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
)
def post_to_slack(
    context: dg.OpExecutionContext, message: FormattedReport, slack: SlackResource, report_store: ReportStoreResource
) -> None:
    report = message.data.report
    window = message.data.window
    if context.run.tags.get(SCHEDULE_TAG) and report.snoozed_at(window.end):
        # Snoozed from Slack: scheduled windows in the snooze are skipped, visibly; a person's
        # own run (CLI, API, Re-run button) still goes out.
        reason = f"{report.snooze_state} by {report.snoozed_by or 'someone'}: nothing sent"
        context.instance.add_run_tags(context.run_id, {TAG_DELIVERY: "skipped"})
        context.log.info(reason)
        context.add_output_metadata({"delivery": "skipped", "detail": reason})
        return
    try:
        send, reason = pipeline.should_send(report, message.analysis, message.data)
    except ConditionError as err:
        raise dg.Failure(description=f"{report.name}: {err}") from err
    if not send:
        context.instance.add_run_tags(context.run_id, {TAG_DELIVERY: "skipped"})
        context.log.info(f"send_if: {reason}")
        context.add_output_metadata({"delivery": "skipped", "detail": reason})
        return
    key = message.data.window.partition_key
    extras = pipeline.thread_extras(message.data, message.analysis)
    try:
        delivery = slack.deliver(
            report, key, message.blocks, message.text, extras=extras,
            run_id=context.run_id, force=context.run.tags.get(TAG_FORCE) == "true",
        )  # fmt: skip
    except (SlackDeliveryError, DeliveryInDoubt, SecretKeyError, NotFound) as err:
        raise dg.Failure(
            description=f"{report.name}: {err}",
            metadata={"destination": report.slack_config.destination or "none"},
            # A rejected token or a missing channel will not fix itself between retries.
            allow_retries=isinstance(err, SlackDeliveryError) and err.code in RETRYABLE_CODES,
        ) from err
    try:
        records = slack.post_extras(report, delivery, extras)
    except SlackDeliveryError as err:
        # The main message is out and recorded; a retry of this step finishes the thread.
        raise dg.Failure(
            description=f"{report.name}: the message was posted (ts {delivery.ts}) but its thread "
            f"replies failed: {err}",
            allow_retries=True,
        ) from err
    destinations = _deliver_destinations(context, message, key) if report.destinations else {}
    if delivery.status in DELIVERED or destinations:
        report_store.get_history().mark_delivered(report.id, key)
    _record_delivery(context, report, message, delivery, records, reason, destinations)


def _deliver_destinations(context, message: FormattedReport, key: str) -> dict:
    """Webhooks, Teams and email, each once per window (a retry of this step skips those done)."""
    report = message.data.report
    content = pipeline.destination_content(
        message.data, message.analysis, run_url=f"{webserver_url()}/runs/{context.run_id}"
    )
    try:
        results = deliver_destinations(
            report, key, content, run_id=context.run_id, force=context.run.tags.get(TAG_FORCE) == "true"
        )
    except DestinationsFailed as err:
        raise dg.Failure(description=f"{report.name}: {err}", allow_retries=not err.final) from err
    for result in results:
        context.log.info(f"{result.destination}: {result.status} ({result.detail})")
    return {"destinations": dg.MetadataValue.json(
        [{"destination": r.destination, "status": r.status, "detail": r.detail} for r in results]
    )}


def _record_delivery(context, report, message, delivery, extras, reason, destinations=None) -> None:
    metadata: dict = {"delivery": delivery.status, "detail": delivery.detail, **(destinations or {})}
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
        metadata["preview"] = dg.MetadataValue.md(blocks_to_markdown(message.blocks))
    context.instance.add_run_tags(context.run_id, tags)
    context.log.info(delivery.detail)
    context.add_output_metadata(metadata)
