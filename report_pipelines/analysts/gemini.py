"""The Gemini analyst: Gemini writes the prose, exact computation supplies every figure.

:class:`GeminiAnalystResource` first runs the statistical analyst over the whole result, then
asks Gemini (through the ``google-genai`` SDK) for a summary, insights and recommendations as
structured JSON, and keeps the exact metrics, categories and trend. Whatever goes wrong on the
Gemini side — quota, outage, timeout, unparseable answer, missing key — the report still goes
out with the statistical analysis and a visible note saying why.

Reports whose ``query`` is a plain-language prompt instead of SQL (see :func:`is_sql`) are
answered by :meth:`GeminiAnalystResource.investigate`: Gemini writes read-only SQL through a
``run_sql`` tool, every statement is checked by :func:`check_read_only` before it reaches the
warehouse, and the last successful result becomes the report's table and exact metrics.

Each request and its retries live in :mod:`~report_pipelines.analysts.gemini_calls`; the
``run_sql`` conversation lives in :mod:`~report_pipelines.analysts.investigation`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import pandas as pd
from google import genai
from google.genai import types
from pydantic import Field

from report_pipelines.analysts import statistical
from report_pipelines.analysts.base import (
    AnalystResource,
    InvestigationError,
    StatisticalAnalystResource,
)
from report_pipelines.analysts.gemini_calls import (
    API_KEY_ENV,
    DEEP_MODEL_ENV,
    QUICK_MODEL_ENV,
    GeminiCalls,
    GeminiUnavailableError,
    Usage,
)
from report_pipelines.analysts.investigation import Investigation, SqlTool, explore
from report_pipelines.analysts.prompts import (
    DEFAULT_TOKEN_BUDGET,
    MAX_TOOL_CALLS,
    MIN_TOKEN_BUDGET,
    AnalysisResponse,
    Prompt,
    build_analysis_prompt,
    build_investigation_prompt,
    investigation_instruction,
    merge_response,
    retry_prompt,
)
from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow

DEFAULT_QUICK_MODEL = "gemini-flash-latest"
DEFAULT_DEEP_MODEL = "gemini-pro-latest"


class GeminiAnalystResource(AnalystResource):
    """Summary, insights and recommendations written by Gemini, on top of exact figures.

    Key Metrics, categories and trend always come from the statistical analyst; Gemini only
    writes the prose. Any Gemini failure falls back to the statistical analysis with a note.

    Example::

        import dagster as dg
        from report_pipelines.analysts.gemini import GeminiAnalystResource

        defs = dg.Definitions(
            resources={
                "analyst": GeminiAnalystResource(
                    api_key=dg.EnvVar("GOOGLE_API_KEY"),
                    quick_model="gemini-flash-latest",
                    deep_model="gemini-pro-latest",
                )
            },
        )
    """

    api_key: str = Field(
        description=(
            "Gemini API key. Give it as dg.EnvVar('GOOGLE_API_KEY') so only the variable's name "
            "reaches config, the UI and run storage."
        )
    )
    quick_model: str = Field(
        default=DEFAULT_QUICK_MODEL, description="Model for reports with analysis mode 'quick'."
    )
    deep_model: str = Field(
        default=DEFAULT_DEEP_MODEL,
        description="Model for analysis mode 'deep' and for plain-language (prompt) reports.",
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "Gemini API base URL (a proxy or a test server). Unset uses the SDK's default, which "
            "honours GOOGLE_GEMINI_BASE_URL."
        ),
    )
    timeout_seconds: float = Field(
        default=60, gt=0, description="How long one Gemini request may take before it is retried."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="Attempts per Gemini request, counting the first; 429, 5xx and timeouts retry.",
    )
    retry_initial_delay_seconds: float = Field(
        default=1.0, ge=0, description="Wait before the first retry; it doubles on each retry."
    )
    retry_max_delay_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest wait between attempts, including a retry delay Gemini asks for.",
    )
    token_budget: int = Field(
        default=DEFAULT_TOKEN_BUDGET,
        ge=MIN_TOKEN_BUDGET,
        description="Most estimated tokens (characters / 4) one prompt may use, whatever the data.",
    )

    @property
    def label(self) -> str:
        return "gemini"

    @property
    def can_investigate(self) -> bool:
        return True

    @contextmanager
    def get_client(self) -> Iterator[genai.Client]:
        """A ``google.genai.Client`` with this resource's key, base URL and timeout.

        Raises :class:`GeminiUnavailableError` when no API key is set.
        """
        client = genai.Client(
            api_key=self._resolved_key(),
            http_options=types.HttpOptions(
                # None leaves the choice to the SDK, which reads GOOGLE_GEMINI_BASE_URL.
                base_url=self.base_url,
                # HttpOptions.timeout is in milliseconds.
                timeout=max(1, round(self.timeout_seconds * 1000)),
                # No retry_options: the SDK then tries each request once, and GeminiCalls
                # retries it where the attempts can be counted.
            ),
        )
        try:
            yield client
        finally:
            client.close()

    @contextmanager
    def _calls(self, usage: Usage) -> Iterator[GeminiCalls]:
        """Requests with this resource's retry settings, tallied in ``usage``."""
        with self.get_client() as client:
            yield GeminiCalls(
                client,
                usage,
                max_attempts=self.max_attempts,
                initial_delay=self.retry_initial_delay_seconds,
                max_delay=self.retry_max_delay_seconds,
                timeout_seconds=self.timeout_seconds,
                redact=self._scrub,
            )

    def check(self) -> str:
        """A one-token generation with the quick model: proves the key, the model and the network."""
        with self.get_client() as client:
            response = client.models.generate_content(
                model=self.quick_model,
                contents="Reply with OK.",
                config=types.GenerateContentConfig(max_output_tokens=1),
            )
        model = getattr(response, "model_version", None) or self.quick_model
        return f"Gemini answered with {model}"

    def model_for(self, mode: str) -> str:
        if mode == "quick":
            return self.quick_model
        if mode == "deep":
            return self.deep_model
        raise ValueError(f"analysis mode {mode!r} must be 'quick' or 'deep'")

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
        """Exact figures from the statistical analyst, prose from Gemini.

        ``facts`` (period-over-period changes, anomaly, targets) join the prompt's exact figures.
        When ``unsupported`` finds figures in the answer that the data does not hold, Gemini is
        asked once more with that list; what it still gets wrong is dropped by the caller.
        With ``context``, the model, token counts, latency and attempts are added to the op's
        output metadata (keys prefixed ``gemini_``).
        """
        exact = statistical.analyze(
            frame,
            window=window,
            period=period,
            audience=audience,
            truncated=truncated,
            report_name=report_name,
        )
        model = self.model_for(mode)
        prompt = build_analysis_prompt(
            frame,
            exact,
            window=window,
            period=period,
            audience=audience,
            report_name=report_name,
            token_budget=self.token_budget,
            facts=facts,
        )
        usage = Usage(model)
        extra = {}
        try:
            with self._calls(usage) as calls:
                analysis = _written_analysis(calls, exact, prompt)
                wrong = unsupported(analysis) if unsupported else []
                if wrong:
                    extra["gemini_regenerated_for_figures"] = ", ".join(wrong[:20])
                    try:
                        analysis = _written_analysis(calls, exact, retry_prompt(prompt, wrong))
                    except GeminiUnavailableError as err:
                        # The first answer stands; the figure check drops its unsupported sentences.
                        extra["gemini_regeneration_failed"] = str(err)
            failure = None
        except GeminiUnavailableError as err:
            failure = str(err)
            analysis = _with_fallback_note(exact, failure)
        usage.write_metadata(context, estimated=prompt.estimated_tokens, failure=failure, extra=extra or None)
        return analysis

    def investigate(
        self,
        question: str,
        *,
        run_sql: Callable[[str], pd.DataFrame],
        window: ReportWindow,
        period: str,
        audience: str,
        report_name: str,
        context: dg.OpExecutionContext | None = None,
        warehouse: str | None = None,
    ) -> Investigation:
        """Answer a plain-language report by letting Gemini query the warehouse.

        ``run_sql`` runs one read-only statement on the report's warehouse with the window
        parameters bound and rows capped; it raises :class:`WarehouseError` when the warehouse
        rejects the query and may set ``frame.attrs["truncated"] = True`` when the cap cut the
        result. Gemini (``deep_model``) may call it at most :data:`MAX_TOOL_CALLS` times; each
        statement passes :func:`check_read_only` first, and a refusal goes back to the model as
        the tool's answer. ``warehouse`` names the warehouse ("DuckDB", "BigQuery") so the model
        writes its dialect.

        Raises :class:`InvestigationError` when no statement ran successfully.
        """
        usage = Usage(self.deep_model)
        # The whole conversation stays near the budget: the question turn, the answer prompt's
        # share, and one bounded result per allowed call.
        tool = SqlTool(run_sql, result_budget=self.token_budget // (MAX_TOOL_CALLS + 2))
        estimated = 0
        try:
            with self._calls(usage) as calls:
                stopped = explore(
                    calls,
                    tool,
                    build_investigation_prompt(
                        question, window=window, period=period, report_name=report_name
                    ),
                    investigation_instruction(audience, warehouse=warehouse),
                )
                if tool.frame is None:
                    raise InvestigationError(
                        self._scrub(
                            f"{report_name}: Gemini ran no successful SQL for the report's prompt "
                            f"({stopped or tool.outcome()}); rephrase the prompt, or write the "
                            "report's query as SQL"
                        )
                    )
                frame, sql = tool.frame, tool.frame_sql
                exact = statistical.analyze(
                    frame,
                    window=window,
                    period=period,
                    audience=audience,
                    truncated=bool(frame.attrs.get("truncated", False)),
                    report_name=report_name,
                )
                prompt = build_analysis_prompt(
                    frame,
                    exact,
                    window=window,
                    period=period,
                    audience=audience,
                    report_name=report_name,
                    token_budget=self.token_budget,
                    question=question,
                    sql=sql,
                )
                estimated = prompt.estimated_tokens
                try:
                    analysis = _written_analysis(calls, exact, prompt)
                    failure = None
                except GeminiUnavailableError as err:
                    failure = str(err)
                    analysis = _with_fallback_note(exact, failure)
        except GeminiUnavailableError as err:
            raise InvestigationError(
                f"{report_name}: the report's prompt needs Gemini, which is unavailable ({err})"
            ) from err
        notes = list(tool.notes)
        if stopped:
            notes.append(
                f"Gemini stopped exploring early ({stopped}); the table is its last successful "
                "query."
            )
        analysis.notes.extend(self._scrub(note) for note in notes)
        usage.write_metadata(
            context,
            estimated=estimated,
            failure=failure,
            extra={
                "gemini_tool_calls": tool.calls,
                "gemini_sql_runs": len(tool.sql_runs),
                "gemini_sql": dg.MetadataValue.md(
                    "\n\n".join(f"```sql\n{statement}\n```" for statement in tool.sql_runs)
                ),
            },
        )
        return Investigation(
            frame=frame, sql_runs=list(tool.sql_runs), analysis=analysis, sql=sql
        )

    def _resolved_key(self) -> str:
        key = self.api_key
        if isinstance(key, dg.EnvVar):
            # Outside a Dagster run (the CLI's preview) the field still holds the EnvVar itself.
            name = key.env_var_name
            key = key.get_value() or ""
            if not key:
                raise GeminiUnavailableError(f"{name} is not set")
        if not key:
            raise GeminiUnavailableError(f"no Gemini API key is configured; set {API_KEY_ENV}")
        return key

    def _scrub(self, text: str) -> str:
        try:
            key = self._resolved_key()
        except GeminiUnavailableError:
            return text
        return text.replace(key, "[redacted]")


def analyst_from_env() -> AnalystResource:
    """The Gemini analyst when ``GOOGLE_API_KEY`` is set, else the offline statistical one.

    The key itself stays in the environment: the resource holds ``dg.EnvVar("GOOGLE_API_KEY")``,
    which Dagster resolves in the run worker. Model names come from ``GEMINI_QUICK_MODEL`` and
    ``GEMINI_DEEP_MODEL`` when set.
    """
    if not os.environ.get(API_KEY_ENV, "").strip():
        return StatisticalAnalystResource()
    models = {}
    for field_name, variable in (("quick_model", QUICK_MODEL_ENV), ("deep_model", DEEP_MODEL_ENV)):
        value = os.environ.get(variable, "").strip()
        if value:
            models[field_name] = value
    return GeminiAnalystResource(api_key=dg.EnvVar(API_KEY_ENV), **models)


def _written_analysis(calls: GeminiCalls, exact: Analysis, prompt: Prompt) -> Analysis:
    response = calls.generate(
        prompt.text,
        types.GenerateContentConfig(
            system_instruction=prompt.system_instruction,
            response_mime_type="application/json",
            response_schema=AnalysisResponse,
        ),
    )
    return merge_response(exact, _parsed(response), analyst=f"gemini:{calls.usage.model}")


def _parsed(response: types.GenerateContentResponse) -> AnalysisResponse:
    parsed = response.parsed
    if isinstance(parsed, AnalysisResponse) and parsed.summary.strip():
        return parsed
    finish = None
    if response.candidates:
        reason = response.candidates[0].finish_reason
        finish = getattr(reason, "value", reason)
    detail = f", finish reason {finish}" if finish and finish != "STOP" else ""
    raise GeminiUnavailableError(f"Gemini's answer was not valid analysis JSON{detail}")


def _with_fallback_note(exact: Analysis, reason: str) -> Analysis:
    note = f"AI analysis unavailable ({reason}); showing the statistical analysis."
    return dataclasses.replace(exact, notes=[*exact.notes, note])


__all__ = [
    "GeminiAnalystResource",
    "GeminiUnavailableError",
    "Investigation",
    "InvestigationError",
    "analyst_from_env",
]
