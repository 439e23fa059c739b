"""The warehouse boundary: one abstract resource, one implementation per kind of warehouse."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
from pydantic import Field

from report_pipelines.models import ReportWindow
from report_pipelines.sql import check_read_only

# Enough for exact metrics over large weekly and monthly results; past it the message says so.
DEFAULT_ROW_CAP = 1_000_000


class WarehouseError(RuntimeError):
    """A query failed for a reason the report's owner can act on; the message says how."""


def read_only_sql(sql: str) -> str:
    """``sql`` as it will run, if :func:`check_read_only` accepts it; every warehouse asks this
    before it sends a report's query anywhere."""
    try:
        return check_read_only(sql)
    except ValueError as err:
        raise WarehouseError(f"the report SQL was refused: {err}") from None


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
