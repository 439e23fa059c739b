"""Questions asked in a report message's thread: which report window, and a run that answers.

A message in a thread whose parent is a delivered report message (found in the delivery
ledger by channel and ts) becomes a run of the ``thread_question`` job of the report's code
location, through the webserver like every run a person asks for (or on the instance when no
webserver answers and the caller allows it). Anything else is not a question for us.
"""

from __future__ import annotations

import dagster as dg

from report_pipelines.launches import Webserver, launch_in_instance
from report_pipelines.names import QUESTION_JOB
from report_pipelines.questions import question_tags
from report_pipelines.store import AuditLog, DeliveryLedger, ReportStore


def ask(channel: str, thread_ts: str, question: str, key: str, *, user: str, instance: dg.DagsterInstance,
        without_webserver: bool) -> str | None:
    """The run id answering ``question``, or None when ``thread_ts`` is not a report message."""
    entry = DeliveryLedger().report_message(channel, thread_ts)
    if entry is None:
        return None
    report = ReportStore().get(entry.report_id)
    tags = question_tags(report.id, entry.partition_key, question, channel, thread_ts, key)
    webserver = Webserver()
    if webserver.available() or not without_webserver:
        run_id = webserver.launch_run(QUESTION_JOB, tags, webserver.location_of(report.id))
    else:
        run_id = launch_in_instance(instance, QUESTION_JOB, report.slug, tags, report.id).run_id
    AuditLog().record(f"slack:{user}", "report.run", report=report, window=entry.partition_key, run_id=run_id,
                      trigger="slack question")
    return run_id
