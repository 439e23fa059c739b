"""What every destination sends: the report, its window, exact metrics, the analysis, the run."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from report_pipelines.analysts.periods import signal_lines
from report_pipelines.analysts.types import Analysis
from report_pipelines.formatting import format_number, json_figure
from report_pipelines.models import Report, ReportWindow


@dataclass(frozen=True)
class ReportContent:
    report: Report
    window: ReportWindow
    analysis: Analysis
    frame: pd.DataFrame
    run_url: str
    csv: bytes
    chart: bytes | None = None

    def document(self) -> dict[str, Any]:
        """The JSON body of a webhook (exact figures: Decimals as strings, never floats rounded)."""
        analysis = self.analysis
        return {
            "report": {"id": self.report.id, "name": self.report.name, "slug": self.report.slug},
            "window": {"partition_key": self.window.partition_key, "start": self.window.start.isoformat(),
                       "end": self.window.end.isoformat(), "timezone": self.window.timezone},
            "metrics": {
                "rows": analysis.row_count,
                "columns": [
                    {"column": m.column, "count": m.count, "total": json_figure(m.total), "average": json_figure(m.average),
                     "min": json_figure(m.minimum), "max": json_figure(m.maximum)}
                    for m in analysis.metrics
                ],
            },
            "analysis": {"analyst": analysis.analyst, "summary": analysis.summary, "insights": analysis.insights,
                         "recommendations": analysis.recommendations, "notes": analysis.notes,
                         "signals": self.signal_lines()},
            "run_url": self.run_url,
        }  # fmt: skip

    def signal_lines(self) -> list[str]:
        return signal_lines(self.analysis.comparisons, self.analysis.anomaly, self.analysis.targets)

    def metric_facts(self) -> list[tuple[str, str]]:
        facts = [("Rows", format_number(self.analysis.row_count))]
        for metric in self.analysis.metrics:
            facts.append((f"{metric.column} total", format_number(metric.total)))
            facts.append((f"{metric.column} average", format_number(metric.average)))
        return facts

    def title(self) -> str:
        return f"{self.report.name} — {self.window.describe()}"


def cell_text(value: Any) -> str:
    """A table cell as text: numbers as the message shows them, missing values as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)
