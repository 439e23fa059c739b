"""The analyst boundary: turns a query result into an :class:`Analysis`."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow


class AnalystResource(dg.ConfigurableResource):
    """Writes the summary, insights and recommendations of one report window.

    Key-metric figures always come from exact computation over the data, whichever analyst runs.
    """

    def analyze(
        self,
        frame: pd.DataFrame,
        *,
        window: ReportWindow,
        period: str,
        audience: str,
        mode: str,
        truncated: bool,
        report_name: str,
        context: dg.OpExecutionContext | None = None,
    ) -> Analysis:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return type(self).__name__


class StatisticalAnalystResource(AnalystResource):
    """The offline analyst: exact statistics and deterministic sentences, no outside calls.

    Example::

        defs = dg.Definitions(resources={"analyst": StatisticalAnalystResource()})
    """

    def analyze(
        self,
        frame: pd.DataFrame,
        *,
        window: ReportWindow,
        period: str,
        audience: str,
        mode: str,
        truncated: bool,
        report_name: str,
        context: dg.OpExecutionContext | None = None,
    ) -> Analysis:
        from report_pipelines.analysts.statistical import analyze

        return analyze(
            frame,
            window=window,
            period=period,
            audience=audience,
            truncated=truncated,
            report_name=report_name,
        )

    @property
    def label(self) -> str:
        return "statistical"
