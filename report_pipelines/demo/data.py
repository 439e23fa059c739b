"""The demo warehouse: a deterministic sales dataset in a DuckDB file.

Figures come from a fixed formula and a seeded linear congruential generator, so every machine
builds byte-for-byte the same table and tests can assert exact totals.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2027, 12, 31)
REGIONS = {"North": 1.20, "South": 0.95, "East": 1.05, "West": 0.80}
PRODUCTS = {
    # product: (category, unit price, base daily units)
    "Aurora Lamp": ("Home", Decimal("49.90"), 14),
    "Borealis Kettle": ("Kitchen", Decimal("34.50"), 22),
    "Cirrus Headphones": ("Electronics", Decimal("129.00"), 9),
    "Delta Backpack": ("Outdoor", Decimal("79.95"), 11),
    "Ember Mug": ("Kitchen", Decimal("12.75"), 40),
}
# Weekday demand, Monday first: shoppers buy more at the weekend.
WEEKDAY_FACTOR = (0.85, 0.90, 0.95, 1.00, 1.10, 1.35, 1.25)
SCHEMA_VERSION = "1"


class _Lcg:
    """Numerical Recipes' LCG: tiny, stable across Python and NumPy versions."""

    def __init__(self, seed: int):
        self.state = seed

    def next_unit(self) -> float:
        self.state = (1664525 * self.state + 1013904223) % 2**32
        return self.state / 2**32


def sales_rows() -> list[tuple]:
    rng = _Lcg(20240101)
    rows = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        season = 1.0 + 0.25 * (1 if day.month in (11, 12) else 0) - 0.1 * (day.month in (1, 2))
        growth = 1.0 + 0.0004 * (day - FIRST_DAY).days
        for region, region_factor in REGIONS.items():
            for product, (category, price, base_units) in PRODUCTS.items():
                noise = 0.7 + 0.6 * rng.next_unit()
                units = round(base_units * region_factor * WEEKDAY_FACTOR[day.weekday()] * season * growth * noise)
                discount = Decimal("0.90") if rng.next_unit() < 0.1 else Decimal("1.00")
                revenue = (price * units * discount).quantize(Decimal("0.01"))
                rows.append((day, region, product, category, units, revenue))
        day += dt.timedelta(days=1)
    return rows


def build_demo_warehouse(path: str | Path) -> bool:
    """Create the DuckDB file unless it already holds this dataset version; True if (re)built."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                version = conn.execute("SELECT version FROM demo_metadata").fetchone()
            if version and version[0] == SCHEMA_VERSION:
                return False
        except duckdb.Error:
            pass
    # Build beside the target and swap in, so concurrent readers never see a half-built file.
    tmp = path.with_suffix(".building")
    for leftover in (tmp, Path(f"{tmp}.wal")):
        if leftover.exists():
            leftover.unlink()
    with duckdb.connect(str(tmp)) as conn:
        conn.execute(
            """
            CREATE TABLE sales (
                order_date DATE NOT NULL,
                region VARCHAR NOT NULL,
                product VARCHAR NOT NULL,
                category VARCHAR NOT NULL,
                units INTEGER NOT NULL,
                revenue DECIMAL(12, 2) NOT NULL
            )
            """
        )
        # Bulk-load through a DataFrame: DuckDB's executemany inserts row by row (~30 s here).
        frame = pd.DataFrame.from_records(
            [(d, r, p, c, u, str(v)) for d, r, p, c, u, v in sales_rows()],
            columns=["order_date", "region", "product", "category", "units", "revenue"],
        )
        conn.register("generated_sales", frame)
        conn.execute(
            "INSERT INTO sales SELECT order_date, region, product, category, units, "
            "CAST(revenue AS DECIMAL(12, 2)) FROM generated_sales"
        )
        conn.unregister("generated_sales")
        conn.execute("CREATE TABLE demo_metadata (version VARCHAR)")
        conn.execute("INSERT INTO demo_metadata VALUES (?)", [SCHEMA_VERSION])
        conn.execute("CHECKPOINT")
    os.replace(tmp, path)
    return True
