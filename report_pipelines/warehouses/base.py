"""The warehouse boundary: one abstract resource, one implementation per kind of warehouse."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
from pydantic import Field

from report_pipelines.models import ReportWindow

# Enough for exact metrics over large weekly and monthly results; past it the message says so.
DEFAULT_ROW_CAP = 1_000_000
WINDOW_PARAMETERS = ("window_start_date", "window_end_date", "window_start", "window_end")


class WarehouseError(RuntimeError):
    """A query failed for a reason the report's owner can act on; the message says how."""


@dataclass
class QueryResult:
    """Rows of one report window; ``truncated`` is True when the row cap cut the result."""

    frame: pd.DataFrame
    truncated: bool
    row_cap: int
    warehouse: str
    parameters_used: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.frame)


PARAMETER_PATTERN = re.compile(r"(?<![\w@])@(" + "|".join(WINDOW_PARAMETERS) + r")\b")


def find_window_parameters(sql: str) -> list[str]:
    """The window parameters a query uses, outside string literals, identifiers and comments."""
    used: list[str] = []
    for kind, chunk in split_sql(sql):
        if kind == "code":
            for match in PARAMETER_PATTERN.finditer(chunk):
                if match.group(1) not in used:
                    used.append(match.group(1))
    return used


def split_sql(sql: str) -> list[tuple[str, str]]:
    """Split SQL into ("code" | "literal", text) chunks.

    Literals are quoted strings ('...' with '' escapes), quoted identifiers ("..." and `...`),
    and comments (-- and /* */): parameters are only recognised outside them, so
    ``'bob@window_start.io'`` or ``-- uses @window_start`` stay untouched.
    """
    chunks: list[tuple[str, str]] = []
    code_start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        end = None
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            end = n if j == -1 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            end = n if j == -1 else j + 2
        if end is None:
            i += 1
            continue
        if code_start < i:
            chunks.append(("code", sql[code_start:i]))
        chunks.append(("literal", sql[i:end]))
        i = code_start = end
    if code_start < n:
        chunks.append(("code", sql[code_start:]))
    return chunks


class WarehouseResource(dg.ConfigurableResource):
    """Runs a report's SQL for one window and returns at most ``row_cap`` rows.

    Implementations bind ``@window_start``, ``@window_end`` (TIMESTAMP) and ``@window_start_date``,
    ``@window_end_date`` (DATE) as real query parameters, never by string formatting.
    """

    row_cap: int = Field(
        default=DEFAULT_ROW_CAP,
        description="Most rows fetched for one report; more sets the result's truncated flag.",
    )

    def run_query(
        self, sql: str, window: ReportWindow, *, labels: dict[str, str] | None = None
    ) -> QueryResult:
        """Run ``sql`` for ``window``; ``labels`` tag the query where the warehouse supports it."""
        raise NotImplementedError

    def check(self) -> str:
        """A trivial query proving the warehouse answers; returns a short description."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        return type(self).__name__
