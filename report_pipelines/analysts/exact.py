"""Exact arithmetic on the numbers a warehouse returns.

* integers are summed as Python ints (no int64 wrap-around on large totals);
* ``Decimal`` values (how SQLAlchemy and DuckDB's Python API return DECIMAL columns) are summed
  as Decimals in a context wide enough that no addition rounds;
* floats are summed with :func:`math.fsum` (correctly rounded);
* averages of integer and Decimal columns, and percentages, are exact quotients rounded
  half-to-even.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np

from report_pipelines.analysts.types import Number

Kind = Literal["int", "decimal", "float"]

# Wide enough that no addition of database numbers rounds. Only additions and comparisons run
# under it: a division would try to expand a repeating fraction to MAX_PREC digits.
SUMS_CONTEXT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[]
)
_INT64_LIMIT = 2**63


def total(kind: Kind, values: np.ndarray | list) -> Number:
    if kind == "float":
        return float_total(values.tolist() if isinstance(values, np.ndarray) else values)
    if isinstance(values, np.ndarray):
        if fits_int64(values):
            return int(values.sum(dtype=np.int64))
        return sum(values.tolist())
    if kind == "decimal":
        with decimal.localcontext(SUMS_CONTEXT):
            return sum(values, Decimal(0))
    return sum(values)


def float_total(values: Sequence[float]) -> float:
    try:
        return math.fsum(values)
    except OverflowError:
        # fsum gives up when a partial sum leaves the float range even if the total would
        # not; the exact Decimal sum, rounded once by float(), is the same correctly rounded
        # result (or inf when the total really is out of range).
        with decimal.localcontext(SUMS_CONTEXT):
            return float(sum((Decimal(v) for v in values), Decimal(0)))


def fits_int64(values: np.ndarray) -> bool:
    """Whether summing ``values`` in int64 cannot overflow, whatever their order."""
    if not len(values):
        return True
    largest = max(abs(int(values.min())), abs(int(values.max())))
    return largest * len(values) < _INT64_LIMIT


def mean(total: int | Decimal, count: int) -> Decimal:
    """``total / count`` rounded half-to-even to 2 places, without intermediate rounding."""
    hundredths = round(Fraction(total) * 100 / count)
    # Via the int constructor, not a string: Python will not print ints past 4300 digits.
    return Decimal(hundredths).scaleb(-2, SUMS_CONTEXT)


def share(part: Number, whole: Number) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (1 dp), when both are positive and finite."""
    if not finite(part) or not finite(whole) or part <= 0 or whole <= 0:
        return None
    return percent(fraction(part), fraction(whole))


def percent(part: Fraction, whole: Fraction) -> Decimal | None:
    """Exact ``part / whole * 100`` rounded half-to-even to one decimal place."""
    if not whole:
        return None
    tenths = round(part / whole * 1000)
    return Decimal(tenths).scaleb(-1, SUMS_CONTEXT)


def fraction(value: Number) -> Fraction:
    """``value`` as an exact fraction; 0 for a non-finite value."""
    if not finite(value):
        return Fraction(0)
    return Fraction(value)


def finite(value: Number) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return math.isfinite(value)
    return True
