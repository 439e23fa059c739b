"""The ``thread_question`` job: one run per question asked in a report message's thread.

The run carries the question and where it was asked in its tags (so it shows in the UI and needs
no run config); its one op answers from that report window's data (``pipeline.answer_question``)
and replies in the thread once, through the delivery ledger. Its metadata holds the question,
the SQL run and the answer.
"""

# No "from __future__ import annotations": Dagster reads these annotations at definition time.

import dagster as dg

from report_pipelines import pipeline
from report_pipelines.analysts.base import AnalystResource
from report_pipelines.names import (
    POOL_ANALYST, QUESTION_JOB, TAG_QUESTION, TAG_QUESTION_CHANNEL, TAG_QUESTION_KEY, TAG_QUESTION_REPORT_ID,
    TAG_QUESTION_THREAD, TAG_QUESTION_WINDOW,
)  # fmt: skip
from report_pipelines.ops import figure_check_metadata
from report_pipelines.pipeline import ReportFailed
from report_pipelines.resources import ReportStoreResource, SlackResource
from report_pipelines.slack.delivery import SlackDeliveryError
from report_pipelines.store import DeliveryInDoubt, DeliveryKey, NotFound
from report_pipelines.warehouses.base import WarehouseResource
from report_pipelines.windows import report_window


def question_tags(report_id: int, window: str, question: str, channel: str, thread_ts: str, key: str) -> dict:
    return {
        TAG_QUESTION_REPORT_ID: str(report_id), TAG_QUESTION_WINDOW: window,
        TAG_QUESTION: question[: pipeline.MAX_QUESTION_CHARS], TAG_QUESTION_CHANNEL: channel,
        TAG_QUESTION_THREAD: thread_ts, TAG_QUESTION_KEY: key,
    }  # fmt: skip


@dg.op(description="Answer a question asked in a report message's thread from that window's data.",
       pool=POOL_ANALYST)
def answer_question(
    context: dg.OpExecutionContext,
    report_store: ReportStoreResource,
    warehouse: WarehouseResource,
    analyst: AnalystResource,
    slack: SlackResource,
) -> None:
    tags = context.run.tags
    missing = [name for name in (TAG_QUESTION_REPORT_ID, TAG_QUESTION_WINDOW, TAG_QUESTION) if not tags.get(name)]
    if missing:
        raise dg.Failure(description=f"a question run needs the tags {', '.join(missing)}; it is started from Slack")
    try:
        report = report_store.get_store().get(int(tags[TAG_QUESTION_REPORT_ID]))
    except NotFound as err:
        raise dg.Failure(description=f"report {tags[TAG_QUESTION_REPORT_ID]} no longer exists") from err
    window = report_window(report, tags[TAG_QUESTION_WINDOW])
    question = tags[TAG_QUESTION]
    try:
        answer = pipeline.answer_question(
            report, window, question, warehouse=warehouse, analyst=analyst, context=context,
            labels={"report": report.slug, "dagster_run": context.run_id},
        )  # fmt: skip
    except ReportFailed as err:
        raise dg.Failure(description=str(err)) from err
    metadata = {
        "question": question, "answer": answer.text, "analyst": answer.analyst,
        "sql": dg.MetadataValue.md("\n\n".join(f"```sql\n{sql}\n```" for sql in answer.sql_runs) or "none"),
    }  # fmt: skip
    metadata.update(figure_check_metadata(answer.figure_check))
    channel, thread = tags.get(TAG_QUESTION_CHANNEL), tags.get(TAG_QUESTION_THREAD)
    if channel and thread:
        once = DeliveryKey(report.id, window.partition_key, f"answer/{tags.get(TAG_QUESTION_KEY) or context.run_id}"[:300])
        try:
            metadata["reply"] = slack.reply_in_thread(report, channel, thread, answer.text, once=once,
                                                      run_id=context.run_id)
        except (SlackDeliveryError, DeliveryInDoubt) as err:
            raise dg.Failure(description=f"the answer could not be posted: {err}", metadata=metadata) from err
    context.add_output_metadata(metadata)


def build_question_job(resources: dict) -> dg.JobDefinition:
    @dg.job(
        name=QUESTION_JOB,
        description="Answers a question asked in a report message's thread, from that window's data.",
        resource_defs={key: resources[key] for key in ("report_store", "warehouse", "analyst", "slack")},
        tags={"report_pipelines/maintenance": "question"},
        executor_def=dg.in_process_executor,
    )
    def thread_question() -> None:
        answer_question()

    return thread_question
