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


@dataclass(frozen=True)
class Delta:
    """One key metric now and in an earlier window (``metric`` "rows" is the row count)."""

    metric: str
    stat: str
    current: Number | None
    earlier: Number | None

    @property
    def change(self) -> Decimal | None:
        if self.current is None or self.earlier is None:
            return None
        return as_decimal(self.current) - as_decimal(self.earlier)

    @property
    def change_pct(self) -> Decimal | None:
        """Percent change against the earlier value's size; None when that value is 0."""
        change = self.change
        if change is None or as_decimal(self.earlier) == 0:
            return None
        return change / abs(as_decimal(self.earlier)) * 100

    @property
    def direction(self) -> str:
        """``up``, ``down``, ``flat``, or ``no data`` when either window has no value."""
        change = self.change
        if change is None:
            return "no data"
        return "up" if change > 0 else "down" if change < 0 else "flat"


@dataclass(frozen=True)
class Comparison:
    """The same query for an earlier window: ``previous`` or ``year_ago``."""

    against: str
    label: str
    window: str
    partition_key: str
    rows: int
    deltas: tuple[Delta, ...]

    @property
    def empty(self) -> bool:
        return self.rows == 0


@dataclass(frozen=True)
class AnomalyCheck:
    """``stat`` of ``metric`` against the robust range of the last windows (median ± k·MAD)."""

    metric: str
    stat: str
    value: Number | None
    windows: int
    history: int
    median: Decimal | None = None
    mad: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    flagged: bool = False
    reason: str = ""


@dataclass(frozen=True)
class TargetProgress:
    metric: str
    stat: str
    value: Number | None
    target: Decimal

    @property
    def percent(self) -> Decimal | None:
        if self.value is None:
            return None
        return as_decimal(self.value) / self.target * 100


def as_decimal(value: Number) -> Decimal:
    """A figure as a Decimal, from its shortest repr (so 0.1 stays 0.1): compared and subtracted exactly."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


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
    # Period-over-period, anomaly and targets: exact figures computed by the run, not the model.
    comparisons: list[Comparison] = field(default_factory=list)
    anomaly: AnomalyCheck | None = None
    targets: list[TargetProgress] = field(default_factory=list)
    # What the figure check did to AI-written text (analysts.figures.FigureCheck), if it ran.
    figure_check: object | None = None
