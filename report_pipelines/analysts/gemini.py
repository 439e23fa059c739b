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
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import dagster as dg
import pandas as pd
import sqlglot
from google import genai
from google.genai import errors, types
from pydantic import Field
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from report_pipelines.analysts import statistical
from report_pipelines.analysts.base import AnalystResource, StatisticalAnalystResource
from report_pipelines.analysts.prompts import (
    DEFAULT_TOKEN_BUDGET,
    MAX_TOOL_CALLS,
    MIN_TOKEN_BUDGET,
    AnalysisResponse,
    Prompt,
    build_analysis_prompt,
    build_investigation_prompt,
    build_tool_result,
    investigation_instruction,
    merge_response,
)
from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow
from report_pipelines.warehouses.base import WarehouseError, split_sql

DEFAULT_QUICK_MODEL = "gemini-flash-latest"
DEFAULT_DEEP_MODEL = "gemini-pro-latest"
API_KEY_ENV = "GOOGLE_API_KEY"
QUICK_MODEL_ENV = "GEMINI_QUICK_MODEL"
DEEP_MODEL_ENV = "GEMINI_DEEP_MODEL"

# Quota, overload and gateway errors are transient; anything else (bad key, unknown model,
# invalid request) would fail the same way again.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_REASON_CHARS = 200
RUN_SQL = "run_sql"


def _http_modules() -> list[ModuleType]:
    modules = []
    for name in ("httpx2", "httpx"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


# The SDK sends requests with httpx2 when it is installed and httpx otherwise; a timeout or a
# dropped connection surfaces as that library's exception, not as a Gemini error.
_HTTP_MODULES = _http_modules()
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = tuple(m.TransportError for m in _HTTP_MODULES)
_TIMEOUT_ERRORS: tuple[type[BaseException], ...] = tuple(m.TimeoutException for m in _HTTP_MODULES)

_RUN_SQL_DECLARATION = types.FunctionDeclaration(
    name=RUN_SQL,
    description=(
        "Run one read-only SQL query (SELECT, or WITH ... SELECT) on the report's warehouse. "
        "Returns the row count, a column profile and a sample of the rows. Use the parameters "
        "@window_start, @window_end, @window_start_date and @window_end_date for the report "
        "window."
    ),
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"sql": types.Schema(type=types.Type.STRING, description="The SQL query.")},
        required=["sql"],
    ),
)


class GeminiUnavailableError(RuntimeError):
    """Gemini produced no usable answer. The message says why and never contains the key."""


class InvestigationError(RuntimeError):
    """A plain-language report could not be answered: no SQL from the model ran successfully."""


@dataclass
class Investigation:
    """A plain-language report answered with SQL.

    ``frame`` is the last successful result (the message's table and the source of its exact
    metrics) and ``sql`` the statement that produced it. ``sql_runs`` lists every statement sent
    to the warehouse, in order, including any that failed there; statements refused by
    :func:`check_read_only` never reach the warehouse and are listed in ``analysis.notes``.
    """

    frame: pd.DataFrame
    sql_runs: list[str]
    analysis: Analysis
    sql: str


@dataclass
class _Usage:
    """What the calls of one analysis cost, for the run's metadata."""

    model: str
    attempts: int = 0
    seconds: float = 0.0
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None

    def record(self, response: types.GenerateContentResponse) -> None:
        usage = response.usage_metadata
        if usage is None:
            return
        self.prompt_tokens = _add(self.prompt_tokens, usage.prompt_token_count)
        self.output_tokens = _add(self.output_tokens, usage.candidates_token_count)
        self.thinking_tokens = _add(self.thinking_tokens, usage.thoughts_token_count)


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
            ),
        )
        try:
            yield client
        finally:
            client.close()

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
    ) -> Analysis:
        """Exact figures from the statistical analyst, prose from Gemini.

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
        )
        usage = _Usage(model)
        try:
            with self.get_client() as client:
                analysis = self._written_analysis(client, exact, prompt, usage)
            failure = None
        except GeminiUnavailableError as err:
            failure = str(err)
            analysis = _with_fallback_note(exact, failure)
        self._record(context, usage, estimated=prompt.estimated_tokens, failure=failure)
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
        usage = _Usage(self.deep_model)
        # The whole conversation stays near the budget: the question turn, the answer prompt's
        # share, and one bounded result per allowed call.
        tool = _SqlTool(run_sql, result_budget=self.token_budget // (MAX_TOOL_CALLS + 2))
        estimated = 0
        try:
            with self.get_client() as client:
                stopped = self._explore(
                    client,
                    usage,
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
                    analysis = self._written_analysis(client, exact, prompt, usage)
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
        self._record(
            context,
            usage,
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

    def _written_analysis(
        self, client: genai.Client, exact: Analysis, prompt: Prompt, usage: _Usage
    ) -> Analysis:
        response = self._generate(
            client,
            usage,
            prompt.text,
            types.GenerateContentConfig(
                system_instruction=prompt.system_instruction,
                response_mime_type="application/json",
                response_schema=AnalysisResponse,
            ),
        )
        return merge_response(exact, _parsed(response), analyst=f"gemini:{usage.model}")

    def _explore(
        self,
        client: genai.Client,
        usage: _Usage,
        tool: _SqlTool,
        question_turn: str,
        instruction: str,
    ) -> str | None:
        """Let the model query until it answers or the call cap is reached.

        Returns why exploration stopped early (a Gemini failure), or None.
        """
        config = types.GenerateContentConfig(
            system_instruction=instruction,
            tools=[types.Tool(function_declarations=[_RUN_SQL_DECLARATION])],
            # This loop runs the calls, so the cap and the read-only check cannot be bypassed.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        contents: list[types.Content] = [
            types.Content(role="user", parts=[types.Part(text=question_turn)])
        ]
        while tool.calls < MAX_TOOL_CALLS:
            try:
                response = self._generate(client, usage, contents, config)
            except GeminiUnavailableError as err:
                return str(err)
            calls = response.function_calls or []
            if not calls or not response.candidates:
                return None
            # The model's turn goes back verbatim: it carries the thought signatures Gemini
            # needs to continue its reasoning across tool calls.
            contents.append(response.candidates[0].content)
            contents.append(types.Content(role="user", parts=[tool.answer(c) for c in calls]))
        return None

    def _generate(
        self,
        client: genai.Client,
        usage: _Usage,
        contents: Any,
        config: types.GenerateContentConfig,
    ) -> types.GenerateContentResponse:
        """One generateContent call with retries.

        Retried here rather than with the SDK's HttpRetryOptions so the attempts can be counted
        for the note and the metadata, and Gemini's own RetryInfo delay honoured.
        """
        started = time.monotonic()
        try:
            for attempt in range(1, self.max_attempts + 1):
                usage.attempts += 1
                try:
                    response = client.models.generate_content(
                        model=usage.model, contents=contents, config=config
                    )
                except errors.APIError as err:
                    if err.code not in RETRYABLE_STATUS or attempt == self.max_attempts:
                        raise GeminiUnavailableError(self._api_reason(err, attempt)) from err
                    delay = self._backoff(attempt, _retry_info_seconds(err))
                except _TRANSPORT_ERRORS as err:
                    if attempt == self.max_attempts:
                        raise GeminiUnavailableError(self._transport_reason(err, attempt)) from err
                    delay = self._backoff(attempt)
                except Exception as err:
                    # The AI text is optional: whatever else the SDK raises (its surface is large
                    # and changes between major versions), the exact report must still go out.
                    raise GeminiUnavailableError(
                        f"the Gemini SDK raised {type(err).__name__}"
                    ) from err
                else:
                    usage.record(response)
                    return response
                time.sleep(delay)
        finally:
            usage.seconds += time.monotonic() - started
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int, requested: float | None = None) -> float:
        # Full jitter spreads the retries of reports that hit the quota in the same minute.
        delay = self.retry_initial_delay_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
        return min(max(delay, requested or 0.0), self.retry_max_delay_seconds)

    def _api_reason(self, err: errors.APIError, attempts: int) -> str:
        answered = f"Gemini answered {err.code} {err.status or ''}".rstrip()
        if err.code in RETRYABLE_STATUS:
            return f"{answered} after {_plural(attempts, 'attempt')}"
        message = _clip(" ".join(str(err.message or "").split()), MAX_REASON_CHARS)
        reason = f"{answered}: {message}" if message else answered
        if err.code in (401, 403) or (err.code == 400 and "api key" in message.lower()):
            reason += f"; check {API_KEY_ENV}"
        elif err.code == 404:
            reason += f"; check the model name ({QUICK_MODEL_ENV} / {DEEP_MODEL_ENV})"
        return self._scrub(reason)

    def _transport_reason(self, err: BaseException, attempts: int) -> str:
        if isinstance(err, _TIMEOUT_ERRORS):
            return (
                f"Gemini did not answer within {self.timeout_seconds:g} s "
                f"({_plural(attempts, 'attempt')})"
            )
        return f"could not reach Gemini ({type(err).__name__}) after {_plural(attempts, 'attempt')}"

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

    def _record(
        self,
        context: dg.OpExecutionContext | None,
        usage: _Usage,
        *,
        estimated: int,
        failure: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if context is None:
            return
        metadata: dict[str, Any] = {
            "gemini_model": usage.model,
            "gemini_status": "fallback" if failure else "ok",
            "gemini_attempts": usage.attempts,
            "gemini_latency_seconds": round(usage.seconds, 3),
            "gemini_estimated_prompt_tokens": estimated,
        }
        for key, value in (
            ("gemini_prompt_tokens", usage.prompt_tokens),
            ("gemini_output_tokens", usage.output_tokens),
            ("gemini_thinking_tokens", usage.thinking_tokens),
        ):
            if value is not None:
                metadata[key] = value
        metadata.update(extra or {})
        if failure:
            context.log.warning(f"Gemini analysis unavailable, statistical one used: {failure}")
        else:
            context.log.info(
                f"Gemini {usage.model} answered in {usage.seconds:.1f} s "
                f"({_plural(usage.attempts, 'attempt')}, {usage.prompt_tokens} prompt tokens, "
                f"{usage.output_tokens} output tokens)"
            )
        context.add_output_metadata(metadata)


@dataclass
class _SqlTool:
    """The state of one investigation's tool calls."""

    run_sql: Callable[[str], pd.DataFrame]
    result_budget: int
    calls: int = 0
    skipped: int = 0
    refused: int = 0
    failed: int = 0
    sql_runs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    frame_sql: str = ""

    def answer(self, call: types.FunctionCall) -> types.Part:
        """Run one requested call (or refuse it) and return the part that answers it."""
        if self.calls >= MAX_TOOL_CALLS:
            self.skipped += 1
            if self.skipped == 1:
                self.notes.append(
                    f"Gemini asked for more than {MAX_TOOL_CALLS} queries; only the first "
                    f"{MAX_TOOL_CALLS} ran."
                )
            return _tool_part(
                call,
                error=f"not run: the limit of {MAX_TOOL_CALLS} queries is reached; answer with "
                "the results you have",
            )
        self.calls += 1
        if call.name != RUN_SQL:
            return _tool_part(call, error=f"unknown tool {call.name!r}; the only tool is {RUN_SQL}")
        sql = (call.args or {}).get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return _tool_part(call, error="run_sql needs a non-empty 'sql' string argument")
        try:
            statement = check_read_only(sql)
        except ValueError as err:
            self.refused += 1
            self.notes.append(f"Refused SQL from the Gemini analyst ({err}): {_one_line(sql)}")
            return _tool_part(call, error=f"refused: {err}")
        self.sql_runs.append(statement)
        try:
            frame = self.run_sql(statement)
        except WarehouseError as err:
            self.failed += 1
            return _tool_part(call, error=f"the warehouse rejected the query: {err}")
        self.frame, self.frame_sql = frame, statement
        return _tool_part(
            call,
            output=build_tool_result(
                frame,
                truncated=bool(frame.attrs.get("truncated", False)),
                token_budget=self.result_budget,
            ),
        )

    def outcome(self) -> str:
        if not self.calls:
            return "it answered without querying"
        parts = [_plural(self.calls, "tool call")]
        if self.refused:
            parts.append(f"{self.refused} refused as not read-only")
        if self.failed:
            parts.append(f"{self.failed} rejected by the warehouse")
        return ", ".join(parts)


def check_read_only(sql: str) -> str:
    """Return ``sql`` ready to run if it is one read-only query, else raise ``ValueError``.

    Read-only means exactly one statement, a SELECT or WITH ... SELECT (set operations of them
    included), with no INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, ALTER, GRANT, REVOKE, COPY,
    ATTACH, DETACH, PRAGMA, SET, CALL, TRUNCATE, SELECT ... INTO or row lock anywhere in it —
    not even in a CTE — and nothing that reads past the warehouse's tables (files, URLs, other
    databases, environment variables; see ``_OUTSIDE_FUNCTIONS``).

    The SQL is parsed with sqlglot in the generic, BigQuery, DuckDB and PostgreSQL dialects;
    every dialect that parses it must agree it is read-only, so a comment or quoting rule of one
    dialect cannot hide a second statement from the check. Window parameters (``@window_start``
    ...) are accepted. The returned text is ``sql`` itself, trimmed of surrounding whitespace
    and trailing semicolons, because sqlglot's rewrite could change its meaning in the
    warehouse's dialect. The check guards model-written SQL; the caller should still query with
    read-only credentials (and, for DuckDB, external access disabled).
    """
    statement = re.sub(r"[\s;]+$", "", sql.strip())
    if not statement:
        raise ValueError("the query is empty")
    if any(kind == "literal" and chunk.startswith("/*!") for kind, chunk in split_sql(statement)):
        # MySQL runs the inside of /*! ... */ as SQL; every parser here reads it as a comment.
        raise ValueError("executable comments (/*! ... */) are not allowed")
    prepared = _without_parameters(statement)
    parsed_any = False
    first_error = ""
    for dialect in _DIALECTS:
        try:
            tokens = sqlglot.tokenize(prepared, read=dialect)
        except TokenError as err:
            first_error = first_error or _first_line(err)
            continue
        if not tokens:
            raise ValueError("the query has no SQL in it, only comments")
        if tokens[0].token_type not in _QUERY_START:
            raise ValueError(
                "only SELECT queries may run (a SELECT or WITH ... SELECT); this one starts with "
                f"{tokens[0].text.upper()}"
            )
        for previous, token in zip([None, *tokens], tokens):
            if token.token_type in _WRITE_TOKENS:
                raise ValueError(f"only read-only queries may run; found {token.text.upper()}")
            if token.token_type is TokenType.STRING and previous is not None and (
                previous.token_type in (TokenType.FROM, TokenType.JOIN)
            ):
                # DuckDB reads FROM 'path' as a file (or a URL).
                raise ValueError(
                    f"only the warehouse's tables may be read; found FROM '{token.text}'"
                )
        try:
            statements = _statements(prepared, dialect)
        except ParseError as err:
            first_error = first_error or _first_line(err)
            continue
        parsed_any = True
        if len(statements) != 1:
            raise ValueError(f"only one statement may run; found {len(statements)}")
        tree = statements[0]
        if not isinstance(tree, exp.Query):
            raise ValueError(f"only SELECT queries may run; found {_node_name(tree)}")
        for node in tree.walk():
            if isinstance(node, _WRITE_NODES):
                raise ValueError(f"only read-only queries may run; found {_node_name(node)}")
            _check_stays_in_warehouse(node)
    if not parsed_any:
        raise ValueError(f"the SQL could not be parsed: {first_error}")
    return statement


def is_sql(text: str) -> bool:
    """Whether a report's ``query`` is SQL (run as is) rather than a plain-language prompt.

    True when the text starts with SELECT, or with WITH followed by a CTE (``WITH name AS (``),
    after any leading comments, or when sqlglot parses it as exactly one query (``(SELECT ...)``,
    DuckDB's ``FROM t``). Window parameters such as ``@window_start`` do not disturb the check.
    A prompt that itself begins with the word "select" reads as SQL: the warehouse's syntax
    error then says so, which is better than sending real SQL to the model by mistake.
    """
    prepared = _without_parameters(text).strip()
    if not prepared:
        return False
    body = _LEADING_COMMENTS.sub("", prepared)
    if _SQL_START.match(body):
        return True
    for dialect in _DIALECTS:
        try:
            tokens = sqlglot.tokenize(prepared, read=dialect)
        except TokenError:
            continue
        if not tokens or tokens[0].token_type not in (TokenType.L_PAREN, TokenType.FROM):
            # Only these can open a query besides SELECT / WITH; parsing prose that starts with
            # "Show" or "Set" would only log sqlglot's fallback warnings.
            continue
        try:
            statements = _statements(prepared, dialect)
        except ParseError:
            continue
        if len(statements) == 1 and isinstance(statements[0], exp.Query):
            return True
    return False


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


_DIALECTS = (None, "bigquery", "duckdb", "postgres")
_QUERY_START = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN})
# Reserved words that only occur in writes, grants and row locks. Words that are also ordinary
# column or function names (set, copy, call, load, truncate) are caught in the parsed tree.
_WRITE_TOKENS = frozenset(
    {
        TokenType.INSERT,
        TokenType.UPDATE,
        TokenType.DELETE,
        TokenType.MERGE,
        TokenType.CREATE,
        TokenType.DROP,
        TokenType.ALTER,
        TokenType.GRANT,
        TokenType.REVOKE,
        TokenType.PRAGMA,
        TokenType.ATTACH,
        TokenType.DETACH,
    }
)
_WRITE_NODE_NAMES: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.Grant: "GRANT",
    exp.Revoke: "REVOKE",
    exp.Copy: "COPY",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Pragma: "PRAGMA",
    exp.Set: "SET",
    exp.TruncateTable: "TRUNCATE",
    exp.Into: "SELECT ... INTO",
    exp.Lock: "a row lock (FOR UPDATE / FOR SHARE)",
    exp.LoadData: "LOAD DATA",
    exp.Use: "USE",
    exp.Transaction: "a transaction",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    # sqlglot's fallback for statements it does not model: CALL, EXECUTE, VACUUM ...
    exp.Command: "a command",
}
_WRITE_NODES = tuple(_WRITE_NODE_NAMES)
# Functions that read files, URLs, other databases, settings or the environment (DuckDB,
# PostgreSQL, BigQuery). They write nothing, but they reach past the warehouse's tables, and
# whatever they read (a key file, a secret) would go into the prompt and the message.
_OUTSIDE_FUNCTIONS = frozenset(
    {
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
        "read_json_auto", "read_json_objects", "read_ndjson", "read_ndjson_auto",
        "read_ndjson_objects", "read_text", "read_blob", "read_xlsx", "sniff_csv", "glob",
        "getenv", "query", "query_table", "sqlite_scan", "postgres_scan", "postgres_query",
        "mysql_query", "iceberg_scan", "delta_scan", "current_setting", "pg_read_file",
        "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export", "dblink",
        "dblink_exec", "external_query",
    }
)
# A table name that is a path or a data file: DuckDB's replacement scans read it from disk.
_FILE_TABLE = re.compile(
    r"[/\\]|\.(?:csv|tsv|txt|json|jsonl|ndjson|parquet|xlsx|gz|zst|db|duckdb|sqlite)$",
    re.IGNORECASE,
)
_PARAMETER = re.compile(r"(?<![\w@])@@?[A-Za-z_]\w*")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_SQL_START = re.compile(
    r"(?:SELECT\b|WITH\s+(?:RECURSIVE\s+)?(?:[\w$]+|\"[^\"]+\"|`[^`]+`)\s*(?:\([^)]*\)\s*)?AS\b)",
    re.IGNORECASE,
)


def _without_parameters(sql: str) -> str:
    """``sql`` with each ``@name`` outside literals and comments replaced by ``NULL``.

    Only for parsing: the generic and PostgreSQL dialects do not read ``@name`` parameters, and
    NULL fits wherever a bound value may stand.
    """
    return "".join(
        _PARAMETER.sub("NULL", chunk) if kind == "code" else chunk for kind, chunk in split_sql(sql)
    )


def _check_stays_in_warehouse(node: exp.Expression) -> None:
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        if name.lower() in _OUTSIDE_FUNCTIONS:
            raise ValueError(
                f"only the warehouse's tables may be read; {name.lower()}() reaches outside them"
            )
    elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        name = ".".join(part.name for part in node.parts)
        if _FILE_TABLE.search(name):
            raise ValueError(f"only the warehouse's tables may be read; {name!r} is a file")


def _statements(sql: str, dialect: str | None) -> list[exp.Expression]:
    # A trailing semicolon parses as an empty statement (None), which is no statement at all.
    return [tree for tree in sqlglot.parse(sql, read=dialect) if tree is not None]


def _node_name(node: exp.Expression) -> str:
    for kind, name in _WRITE_NODE_NAMES.items():
        if isinstance(node, kind):
            if kind is exp.Command and node.this:
                return str(node.this).upper()
            return name
    return node.key.upper()


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


def _tool_part(
    call: types.FunctionCall, *, output: str | None = None, error: str | None = None
) -> types.Part:
    response = {"output": output} if error is None else {"error": error}
    return types.Part(
        function_response=types.FunctionResponse(id=call.id, name=call.name, response=response)
    )


def _retry_info_seconds(err: errors.APIError) -> float | None:
    """The delay Gemini asks for in a RetryInfo detail (``"retryDelay": "37s"``), if any."""
    body = err.details if isinstance(err.details, dict) else {}
    details = body.get("error", {}).get("details") if isinstance(body.get("error"), dict) else None
    for item in details or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return (total or 0) + value


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(sql: str) -> str:
    return _clip(" ".join(sql.split()), MAX_REASON_CHARS)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return _clip(text.splitlines()[0] if text else type(err).__name__, MAX_REASON_CHARS)


__all__ = [
    "GeminiAnalystResource",
    "GeminiUnavailableError",
    "Investigation",
    "InvestigationError",
    "analyst_from_env",
    "check_read_only",
    "is_sql",
]
