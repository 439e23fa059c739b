"""What an analyst returns. Plain data: the Block Kit formatter renders it deterministically."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

Number = int | float | Decimal


@dataclass(frozen=True)
class ColumnMetrics:
    """Exact figures for one numeric column (nulls ignored; ``count`` is non-null values)."""

    column: str
    count: int
    total: Number
    average: Number | None
    minimum: Number | None
    maximum: Number | None


@dataclass(frozen=True)
class CategoryTop:
    """The leading values of one text column, ranked by ``measure`` (a column name or rows)."""

    column: str
    measure: str
    distinct: int
    values: tuple[tuple[str, Number], ...]


@dataclass(frozen=True)
class TrendPoint:
    when: dt.date | dt.datetime
    value: Number


@dataclass(frozen=True)
class Trend:
    """How ``measure`` moved over ``time_column`` inside the window (sums per time value)."""

    time_column: str
    measure: str
    first: TrendPoint
    last: TrendPoint
    peak: TrendPoint
    low: TrendPoint
    points: int

    @property
    def change(self) -> Number:
        return self.last.value - self.first.value

    @property
    def change_pct(self) -> Decimal | None:
        if not self.first.value:
            return None
        return Decimal(str(self.change)) / Decimal(str(self.first.value)) * 100


@dataclass
class Analysis:
    """Summary, insights and recommendations plus the exact figures they rest on."""

    analyst: str
    row_count: int
    truncated: bool
    summary: str
    insights: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    metrics: list[ColumnMetrics] = field(default_factory=list)
    categories: list[CategoryTop] = field(default_factory=list)
    trend: Trend | None = None
    notes: list[str] = field(default_factory=list)
