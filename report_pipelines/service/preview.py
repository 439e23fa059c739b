"""Previewing a report window: the message a run would send, without sending it.

The same steps as a run (``pipeline.py``): the query (or Gemini's investigation of a
prompt-only report), the analysis, the message, the ``send_if`` decision, and the thread extras.
The message is written as Block Kit JSON under ``previews/<slug>/``, with the chart PNG and the
CSV beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from report_pipelines import pipeline
from report_pipelines.analysts import analyst_from_env
from report_pipelines.conditions import ConditionError
from report_pipelines.models import Report
from report_pipelines.names import default_home, webserver_url
from report_pipelines.pipeline import ReportFailed, ThreadExtras
from report_pipelines.store.history import WindowHistory
from report_pipelines.warehouses import warehouse_from_env
from report_pipelines.windows import report_window


@dataclass(frozen=True)
class Preview:
    report: Report
    partition_key: str
    blocks: list
    text: str
    send: bool
    reason: str
    extras: ThreadExtras
    path: Path

    @property
    def files(self) -> list[Path]:
        return [self.path.parent / item.filename for item in self.extras.files]


def preview(report: Report, key: str) -> Preview:
    """Render window ``key`` of ``report``; raises :class:`ReportFailed` saying what to fix."""
    window = report_window(report, key)
    analyst = analyst_from_env()
    labels = {"report": report.slug, "dagster_run": "preview"}
    data = pipeline.fetch(
        report, window, warehouse=warehouse_from_env(), analyst=analyst, labels=labels, history=WindowHistory()
    )
    analysis = pipeline.analyse(data, analyst=analyst)
    blocks, text = pipeline.render(data, analysis, run_url=f"{webserver_url()}/runs")
    try:
        send, reason = pipeline.should_send(report, analysis, data)
    except ConditionError as err:
        raise ReportFailed(f"{report.name}: {err}") from err
    extras = pipeline.thread_extras(data, analysis)
    path = pipeline.write_preview_bundle(default_home() / "previews", report, key, blocks, text, extras)
    return Preview(report, key, blocks, text, send, reason, extras, path)
