"""The analyst boundary: turns a query result into an :class:`Analysis`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd

from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow


class InvestigationError(RuntimeError):
    """A plain-language report could not be answered: no SQL from the model ran successfully."""


class AnalystResource(dg.ConfigurableResource):
    """Writes the summary, insights and recommendations of one report window.

    Key-metric figures always come from exact computation over the data, whichever analyst runs.
    Analysts that can answer a plain-language report with SQL (Gemini) set ``can_investigate``.
    """

    @property
    def can_investigate(self) -> bool:
        return False

    def investigate(self, question: str, **kwargs):
        """Answer a plain-language report with read-only SQL; see the Gemini analyst."""
        raise InvestigationError("this analyst cannot answer plain-language reports; set GOOGLE_API_KEY")

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
        facts: Sequence[str] = (),
        unsupported: Callable[[Analysis], list[str]] | None = None,
    ) -> Analysis:
        """``facts`` are further exact-figure lines (period-over-period changes, anomaly, targets)
        an AI analyst may cite; ``unsupported`` lists the figures of a written analysis that the
        run cannot match, so an AI analyst may ask once more without them."""
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
        facts: Sequence[str] = (),
        unsupported: Callable[[Analysis], list[str]] | None = None,
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
