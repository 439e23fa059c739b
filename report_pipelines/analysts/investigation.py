"""The run_sql conversation of a plain-language report: Gemini explores the warehouse with SQL.

:func:`explore` lets the model call the ``run_sql`` tool until it answers or
:data:`~report_pipelines.analysts.prompts.MAX_TOOL_CALLS` calls have run. :class:`SqlTool`
answers each call: every statement passes :func:`check_read_only` before it reaches the
warehouse, a refusal or a warehouse error goes back to the model as the tool's answer, and the
last successful result is kept as the report's table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from google.genai import types

from report_pipelines.analysts.gemini_calls import (
    MAX_REASON_CHARS,
    GeminiCalls,
    GeminiUnavailableError,
)
from report_pipelines.analysts.prompts import MAX_TOOL_CALLS, build_tool_result
from report_pipelines.analysts.types import Analysis
from report_pipelines.formatting import clip, one_line, plural
from report_pipelines.sql import check_read_only
from report_pipelines.warehouses.base import WarehouseError

RUN_SQL = "run_sql"

RUN_SQL_DECLARATION = types.FunctionDeclaration(
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
class SqlTool:
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
            self.notes.append(
                f"Refused SQL from the Gemini analyst ({err}): "
                f"{clip(one_line(sql), MAX_REASON_CHARS)}"
            )
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
        parts = [plural(self.calls, "tool call")]
        if self.refused:
            parts.append(f"{self.refused} refused as not read-only")
        if self.failed:
            parts.append(f"{self.failed} rejected by the warehouse")
        return ", ".join(parts)


def explore(calls: GeminiCalls, tool: SqlTool, question_turn: str, instruction: str) -> str | None:
    """Let the model query until it answers or the call cap is reached.

    Returns why exploration stopped early (a Gemini failure), or None.
    """
    config = types.GenerateContentConfig(
        system_instruction=instruction,
        tools=[types.Tool(function_declarations=[RUN_SQL_DECLARATION])],
        # This loop runs the calls, so the cap and the read-only check cannot be bypassed.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    contents: list[types.Content] = [
        types.Content(role="user", parts=[types.Part(text=question_turn)])
    ]
    while tool.calls < MAX_TOOL_CALLS:
        try:
            response = calls.generate(contents, config)
        except GeminiUnavailableError as err:
            return str(err)
        function_calls = response.function_calls or []
        if not function_calls or not response.candidates:
            return None
        # The model's turn goes back verbatim: it carries the thought signatures Gemini needs
        # to continue its reasoning across tool calls.
        contents.append(response.candidates[0].content)
        contents.append(
            types.Content(role="user", parts=[tool.answer(call) for call in function_calls])
        )
    return None


def _tool_part(
    call: types.FunctionCall, *, output: str | None = None, error: str | None = None
) -> types.Part:
    response = {"output": output} if error is None else {"error": error}
    return types.Part(
        function_response=types.FunctionResponse(id=call.id, name=call.name, response=response)
    )
