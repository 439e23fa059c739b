"""The offline analyst: every figure equals what the warehouse computes in SQL, the sentences are
deterministic, and no frame — empty, all-null, mixed, huge or non-finite — makes it raise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import random
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from report_pipelines.analysts.statistical import analyze
from report_pipelines.analysts.types import Analysis, ColumnMetrics, TrendPoint
from report_pipelines.models import ReportWindow

WEEK_START = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)
WINDOW = ReportWindow(
    partition_key="2026-11-16-00:00",
    start=WEEK_START,
    end=WEEK_START + dt.timedelta(days=7),
    timezone="UTC",
)
INT64_MAX = 2**63 - 1
REGIONS = ("North", "South", "East", "West", "Central")
CENT = Decimal("0.01")
# Wide enough that summing test data in Python never rounds.
EXACT = decimal.Context(prec=200)


def run(frame: pd.DataFrame, **kwargs) -> Analysis:
    options = {"window": WINDOW, "period": "week", "audience": "analyst"} | kwargs
    return analyze(frame, **options)


def metric(analysis: Analysis, column: str) -> ColumnMetrics:
    return next(m for m in analysis.metrics if m.column == column)


def exact_mean(total: int | Decimal, count: int) -> Decimal:
    with decimal.localcontext(EXACT):
        return (Decimal(total) / count).quantize(CENT, rounding=ROUND_HALF_EVEN)


@pytest.fixture(scope="module")
def warehouse():
    """A DuckDB table with every column type a report query returns, NULLs included."""
    rng = random.Random(20261116)
    rows = []
    for i in range(400):
        revenue = Decimal(rng.randrange(-10**6, 10**12)).scaleb(-2)
        if i % 50 == 0:
            revenue = Decimal("9999999999.99")
        units = rng.choice([rng.randrange(0, 1000), rng.randrange(2**30, 2**31)])
        price = rng.random() * 10 ** rng.randrange(-3, 9)
        rows.append(
            (
                None if i % 31 == 0 else dt.date(2026, 11, 16) + dt.timedelta(days=i % 7),
                None if i % 23 == 0 else REGIONS[rng.randrange(len(REGIONS))],
                None if i % 13 == 0 else revenue,
                None if i % 11 == 0 else units,
                None if i % 17 == 0 else price,
            )
        )
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE sales (day DATE, region VARCHAR, revenue DECIMAL(12,2), "
        "units INTEGER, price DOUBLE)"
    )
    connection.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", rows)
    yield connection
    connection.close()


def duckdb_frame(connection) -> pd.DataFrame:
    return connection.execute("SELECT * FROM sales").df()


def decimal_frame(connection) -> pd.DataFrame:
    """The frame a SQLAlchemy cursor yields: Decimal, int, date and None values in object
    columns, exactly as the DB-API driver returned them."""
    cursor = connection.execute("SELECT * FROM sales")
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    return pd.DataFrame(
        {name: pd.Series([row[i] for row in rows], dtype=object) for i, name in enumerate(names)}
    )


def sql_figures(connection, column: str) -> tuple:
    return connection.execute(
        f"SELECT COUNT({column}), SUM({column}), AVG({column}), MIN({column}), MAX({column}) "
        "FROM sales"
    ).fetchone()


def test_duckdb_frame_has_the_types_warehouses_deliver(warehouse):
    frame = duckdb_frame(warehouse)
    # DuckDB's pandas conversion turns DECIMAL into float64: only the Decimal-object frame
    # can be exact for money, which is why both frames are tested.
    assert str(frame["revenue"].dtype) == "float64"
    assert str(frame["units"].dtype) == "Int32"
    assert isinstance(decimal_frame(warehouse)["revenue"].dropna().iloc[0], Decimal)


def test_decimal_objects_match_sql_exactly(warehouse):
    analysis = run(decimal_frame(warehouse))
    count, total, average, minimum, maximum = sql_figures(warehouse, "revenue")
    revenue = metric(analysis, "revenue")
    assert (revenue.count, revenue.total, revenue.minimum, revenue.maximum) == (
        count,
        total,
        minimum,
        maximum,
    )
    assert all(type(v) is Decimal for v in (revenue.total, revenue.minimum, revenue.maximum))
    assert revenue.average == exact_mean(total, count)
    assert abs(revenue.average - Decimal(average)) <= Decimal("0.005")


@pytest.mark.parametrize("make_frame", [duckdb_frame, decimal_frame])
def test_integer_column_matches_sql_exactly(warehouse, make_frame):
    count, total, average, minimum, maximum = sql_figures(warehouse, "units")
    units = metric(run(make_frame(warehouse)), "units")
    # The column sums past 2**31, so an INTEGER-typed accumulator would have wrapped.
    assert total > 2**31
    assert (units.count, units.total, units.minimum, units.maximum) == (
        count,
        total,
        minimum,
        maximum,
    )
    assert all(type(v) is int for v in (units.total, units.minimum, units.maximum))
    assert units.average == exact_mean(total, count)
    assert abs(units.average - Decimal(average)) <= Decimal("0.005")


@pytest.mark.parametrize("make_frame", [duckdb_frame, decimal_frame])
def test_double_column_matches_sql(warehouse, make_frame):
    count, total, average, minimum, maximum = sql_figures(warehouse, "price")
    price = metric(run(make_frame(warehouse)), "price")
    assert price.count == count
    assert (price.minimum, price.maximum) == (minimum, maximum)
    # SQL adds doubles in its own order; fsum is the correctly rounded sum, so they agree
    # only to rounding.
    assert math.isclose(price.total, total, rel_tol=1e-12)
    assert math.isclose(price.average, average, rel_tol=1e-12)
    values = [v for v in make_frame(warehouse)["price"].tolist() if v is not None and v == v]
    assert price.total == math.fsum(values)
    assert all(type(v) is float for v in (price.total, price.average, price.minimum))


def test_duckdb_decimal_as_float_matches_sql(warehouse):
    count, total, _, minimum, maximum = sql_figures(warehouse, "revenue")
    revenue = metric(run(duckdb_frame(warehouse)), "revenue")
    assert revenue.count == count
    assert math.isclose(revenue.total, total, rel_tol=1e-12)
    assert (revenue.minimum, revenue.maximum) == (float(minimum), float(maximum))


def test_categories_match_sql_group_by(warehouse):
    expected = warehouse.execute(
        "SELECT region, SUM(revenue) AS total FROM sales WHERE region IS NOT NULL "
        "GROUP BY region ORDER BY total DESC, region LIMIT 3"
    ).fetchall()
    (distinct,) = warehouse.execute("SELECT COUNT(DISTINCT region) FROM sales").fetchone()
    analysis = run(decimal_frame(warehouse))
    (region,) = [c for c in analysis.categories if c.column == "region"]
    assert region.measure == "revenue"
    assert region.values == tuple(expected)
    assert region.distinct == distinct

    approximate = run(duckdb_frame(warehouse)).categories[0]
    assert [name for name, _ in approximate.values] == [name for name, _ in expected]
    for (_, got), (_, want) in zip(approximate.values, expected, strict=True):
        assert math.isclose(got, want, rel_tol=1e-12)


def test_trend_matches_sql_daily_sums(warehouse):
    daily = warehouse.execute(
        "SELECT day, SUM(revenue) FROM sales WHERE day IS NOT NULL "
        "GROUP BY day HAVING COUNT(revenue) > 0 ORDER BY day"
    ).fetchall()
    trend = run(decimal_frame(warehouse)).trend
    assert trend is not None
    assert (trend.time_column, trend.measure, trend.points) == ("day", "revenue", len(daily))
    points = [TrendPoint(day, total) for day, total in daily]
    assert trend.first == points[0]
    assert trend.last == points[-1]
    assert trend.peak == max(points, key=lambda p: p.value)
    assert trend.low == min(points, key=lambda p: p.value)

    approximate = run(duckdb_frame(warehouse)).trend
    assert approximate is not None
    assert approximate.first.when == daily[0][0]
    assert math.isclose(approximate.first.value, daily[0][1], rel_tol=1e-12)


def test_empty_duckdb_result(warehouse):
    frame = warehouse.execute("SELECT * FROM sales WHERE FALSE").df()
    analysis = run(frame)
    assert analysis.row_count == 0
    assert analysis.summary.startswith("No rows for the week 2026-11-16 → 2026-11-23")
    assert metric(analysis, "revenue") == ColumnMetrics("revenue", 0, 0, None, None, None)
    assert analysis.categories == [] and analysis.trend is None
    assert analysis.recommendations == [
        "Check that the query's window filter matches the data "
        "(no rows between 2026-11-16 and 2026-11-23)."
    ]
    general = run(frame, audience="general")
    assert "No rows" in general.summary and general.recommendations


def test_int64_near_overflow_sums_exactly():
    values = np.array([INT64_MAX, INT64_MAX, INT64_MAX, -1], dtype=np.int64)
    frame = pd.DataFrame({"region": ["a", "a", "b", "b"], "units": values})
    analysis = run(frame)
    units = metric(analysis, "units")
    assert units.total == 3 * INT64_MAX - 1
    assert units.average == Decimal("6917529027641081855.00")
    assert (units.minimum, units.maximum) == (-1, INT64_MAX)
    # Per-category sums overflow int64 too.
    assert analysis.categories[0].values == (("a", 2 * INT64_MAX), ("b", INT64_MAX - 1))


@pytest.mark.parametrize(
    ("values", "dtype", "total"),
    [
        ([2**64 - 1, 2**64 - 2], "uint64", 2**65 - 3),
        ([INT64_MAX, None, INT64_MAX], "Int64", 2 * INT64_MAX),
        ([10**40, -(10**40), 7, None], object, 7),
        ([Decimal("1e30"), Decimal("0.01"), 5], object, Decimal("1" + "0" * 29 + "5.01")),
    ],
)
def test_wide_integers_and_decimals_sum_exactly(values, dtype, total):
    column = metric(run(pd.DataFrame({"units": pd.Series(values, dtype=dtype)})), "units")
    assert column.total == total
    assert type(column.total) is type(total)


def test_average_rounds_half_to_even():
    averages = [
        metric(run(pd.DataFrame({"units": values})), "units").average
        for values in ([1, 0, 0, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0, 0, 0])
    ]
    # 0.125 -> 0.12 and 0.375 -> 0.38: half to even, never half up.
    assert averages == [Decimal("0.12"), Decimal("0.38")]


def test_empty_and_zero_column_frames():
    for frame in (pd.DataFrame(), pd.DataFrame(index=range(3))):
        analysis = run(frame)
        assert analysis.metrics == [] and analysis.recommendations
    assert run(pd.DataFrame(index=range(3))).summary == (
        "3 rows for the week 2026-11-16 → 2026-11-23. The result has no numeric columns."
    )


def test_all_null_columns():
    frame = pd.DataFrame(
        {
            "revenue": [np.nan, np.nan],
            "units": pd.Series([None, None], dtype="Int64"),
            "notes": [None, None],
        }
    )
    analysis = run(frame)
    assert analysis.metrics == [
        ColumnMetrics("revenue", 0, 0, None, None, None),
        ColumnMetrics("units", 0, 0, None, None, None),
    ]
    assert "revenue has no values" in analysis.summary
    assert "Check why revenue has no values this week." in analysis.recommendations


def test_non_finite_values_are_left_out_and_noted():
    frame = pd.DataFrame(
        {
            "price": [1.5, np.inf, np.nan, -np.inf, 2.25],
            "amount": pd.Series(
                [Decimal("2.50"), Decimal("Infinity"), Decimal("NaN"), None, Decimal("1")],
                dtype=object,
            ),
        }
    )
    analysis = run(frame)
    price = metric(analysis, "price")
    assert (price.count, price.total, price.average, price.minimum, price.maximum) == (
        4,
        3.75,
        1.875,
        1.5,
        2.25,
    )
    amount = metric(analysis, "amount")
    assert (amount.total, amount.average, amount.maximum) == (
        Decimal("3.50"),
        Decimal("1.75"),
        Decimal("2.50"),
    )
    assert any(note.startswith("price: 2 non-finite values") for note in analysis.notes)
    assert any(note.startswith("amount: 1 non-finite value ") for note in analysis.notes)


def test_float_sum_past_the_float_range_is_still_correctly_rounded():
    # fsum raises on the intermediate overflow; the true total fits a float.
    price = metric(run(pd.DataFrame({"price": [1e308, 1e308, -1e308]})), "price")
    assert price.total == 1e308


def test_categories_rank_by_primary_metric_and_break_ties_by_name():
    frame = pd.DataFrame(
        {
            "region": ["West", "East", "North", "South", "North", "Central"],
            "revenue": [Decimal(v) for v in ("5.00", "5.00", "2.00", "1.00", "3.00", "5.00")],
        }
    )
    top = run(frame).categories[0]
    assert top.measure == "revenue"
    assert top.distinct == 5
    assert top.values == (
        ("Central", Decimal("5.00")),
        ("East", Decimal("5.00")),
        ("North", Decimal("5.00")),
    )


def test_categories_rank_by_rows_without_a_numeric_column():
    frame = pd.DataFrame({"region": ["b", "a", "c", "a", "b", "d", None]})
    top = run(frame).categories[0]
    assert (top.measure, top.distinct, top.values) == ("rows", 4, (("a", 2), ("b", 2), ("c", 1)))


def test_primary_metric_follows_keyword_order():
    frame = pd.DataFrame(
        {"id": [1, 2], "units": [3, 4], "gross_sales": [5, 6], "label": ["x", "y"]}
    )
    assert run(frame).categories[0].measure == "gross_sales"
    assert run(frame[["id", "label"]]).categories[0].measure == "id"


@pytest.mark.parametrize(("rows", "ranked"), [(20, True), (21, False)])
def test_identifier_columns_are_not_ranked(rows, ranked):
    frame = pd.DataFrame({"order_id": [f"o{i}" for i in range(rows)], "revenue": range(rows)})
    analysis = run(frame)
    assert bool(analysis.categories) is ranked
    assert any("order_id" in note for note in analysis.notes) is not ranked


def test_at_most_three_category_columns():
    frame = pd.DataFrame({f"c{i}": ["a", "b", "a"] for i in range(5)} | {"revenue": [1, 2, 3]})
    assert [c.column for c in run(frame).categories] == ["c0", "c1", "c2"]


def test_mixed_object_column_is_text():
    frame = pd.DataFrame(
        {"code": pd.Series([1, "A", Decimal("2.5"), None, 1.5], dtype=object), "units": range(5)}
    )
    analysis = run(frame)
    assert [m.column for m in analysis.metrics] == ["units"]
    assert analysis.categories[0].values == (("1.5", 4), ("2.5", 2), ("A", 1))


def test_trend_first_last_peak_low_with_ties_to_the_earliest():
    days = pd.to_datetime(
        ["2026-11-18", "2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20", "2026-11-16", None]
    )
    frame = pd.DataFrame({"day": days, "revenue": [130, 60, 90, 130, 90, 40, 1000]})
    trend = run(frame).trend
    assert trend is not None
    assert trend.first == TrendPoint(dt.date(2026, 11, 16), 100)
    assert trend.last == TrendPoint(dt.date(2026, 11, 20), 90)
    assert trend.peak == TrendPoint(dt.date(2026, 11, 18), 130)
    assert trend.low == TrendPoint(dt.date(2026, 11, 17), 90)
    assert trend.points == 5
    assert trend.change == -10


def test_trend_sentences_and_falling_recommendation():
    frame = pd.DataFrame(
        {
            "day": [dt.date(2026, 11, 16), dt.date(2026, 11, 19), dt.date(2026, 11, 22)],
            "revenue": [Decimal("100.00"), Decimal("130.00"), Decimal("87.50")],
        }
    )
    analysis = run(frame)
    assert (
        "revenue fell 12.5% from 100.00 on 2026-11-16 to 87.50 on 2026-11-22; "
        "peak 130.00 on 2026-11-19, low 87.50 on 2026-11-22 (3 day values)."
    ) in analysis.insights
    assert analysis.recommendations[0].startswith("Look into the drop in revenue since 2026-11-19")
    rising = run(frame.iloc[:2], audience="general")
    assert rising.insights == [
        "revenue rose 30.0% over the week, from 100.00 on 2026-11-16 to 130.00 on 2026-11-19, "
        "and was highest on 2026-11-19 (130.00)."
    ]


def test_trend_needs_two_time_values_with_figures():
    frame = pd.DataFrame(
        {"day": [dt.date(2026, 11, 16), dt.date(2026, 11, 17)], "revenue": [5.0, np.nan]}
    )
    assert run(frame).trend is None
    assert run(frame.assign(day=dt.date(2026, 11, 16), revenue=5.0)).trend is None


def test_share_sentence_and_concentration_risk():
    frame = pd.DataFrame(
        {
            "region": ["North", "South", "East", "West"],
            "revenue": [Decimal("370.00"), Decimal("300.00"), Decimal("200.00"), Decimal("130.00")],
        }
    )
    analysis = run(frame)
    assert analysis.insights[0] == (
        "By region, North led revenue with 370.00 (37.0% of the total), followed by "
        "South (300.00) and East (200.00); 4 distinct values."
    )
    assert not any("concentration" in r for r in analysis.recommendations)
    concentrated = run(frame.assign(revenue=[Decimal("600.00"), 1, 1, 1]))
    assert any(
        r.startswith("North accounts for 99.5% of revenue") and "concentration risk" in r
        for r in concentrated.recommendations
    )


def test_analyst_and_general_summaries_differ_and_carry_the_exact_total():
    frame = pd.DataFrame(
        {
            "region": ["North"] * 6 + ["South"] * 6,
            "revenue": [Decimal("100.00")] * 11 + [Decimal("134.50")],
            "units": range(12),
        }
    )
    analyst = run(frame)
    general = run(frame, audience="general")
    assert analyst.summary == (
        "12 rows for the week 2026-11-16 → 2026-11-23. revenue totalled 1,234.50 "
        "(average 102.88, min 100.00, max 134.50)."
    )
    assert general.summary == (
        "This week's revenue (2026-11-16 → 2026-11-23) came to 1,234.50 across 12 records."
    )
    assert "min" not in " ".join([general.summary, *general.insights])
    assert len(general.insights) < len(analyst.insights)
    assert "Other totals: units 66 (average 5.50)." in analyst.insights


@pytest.mark.parametrize(
    ("period", "opener"),
    [
        ("day", "The day's"),
        ("week", "This week's"),
        ("month", "This month's"),
        ("period", "This period's"),
        ("cron", "This period's"),
    ],
)
def test_general_summary_names_the_period(period, opener):
    frame = pd.DataFrame({"revenue": [1, 2]})
    assert run(frame, audience="general", period=period).summary.startswith(f"{opener} revenue")


@pytest.mark.parametrize("audience", ["analyst", "general"])
def test_truncated_results_say_so(audience):
    analysis = run(pd.DataFrame({"revenue": range(1000)}), audience=audience, truncated=True)
    assert analysis.truncated
    assert "only the first 1,000 rows were analysed" in analysis.summary.lower()
    assert any("row cap" in r for r in analysis.recommendations)


def test_window_dates_are_local_to_the_report_timezone():
    start = dt.datetime(2026, 11, 15, 23, 30, tzinfo=dt.timezone.utc)
    window = ReportWindow(
        partition_key="2026-11-16-09:30",
        start=start,
        end=start + dt.timedelta(days=1),
        timezone="Asia/Kolkata",
    )
    summary = analyze(pd.DataFrame(), window=window, period="day", audience="analyst").summary
    assert "2026-11-16 → 2026-11-17" in summary


def test_same_input_same_analysis_whatever_the_row_order(warehouse):
    frame = decimal_frame(warehouse)
    first = run(frame)
    assert run(frame) == first
    shuffled = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    assert run(shuffled) == first
    doubles = duckdb_frame(warehouse)
    # fsum is correctly rounded, so even float totals do not depend on row order.
    assert run(doubles.sample(frac=1, random_state=5)) == run(doubles)


def test_figures_are_native_python_numbers():
    frame = pd.DataFrame(
        {
            "a": np.array([1, 2], dtype=np.int32),
            "b": np.array([1.5, 2.5], dtype=np.float32),
            "c": pd.Series([1, None], dtype="UInt8"),
            "d": ["x", "y"],
        }
    )
    analysis = run(frame)
    for m in analysis.metrics:
        for value in (m.count, m.total, m.average, m.minimum, m.maximum):
            assert type(value) in (int, float, Decimal)
    for top in analysis.categories:
        assert all(type(value) in (int, float, Decimal) for _, value in top.values)


def test_awkward_frames_do_not_raise():
    utc = dt.timezone.utc
    frames = [
        pd.DataFrame([[1, 2, "a"], [3, 4, "b"]], columns=["x", "x", None]),
        pd.DataFrame([[1, "a"]], columns=pd.MultiIndex.from_tuples([("sales", 2026), ("r", "")])),
        pd.DataFrame({0: [1.0], 1: ["a"], 2.5: [dt.date(2026, 1, 1)]}),
        pd.DataFrame({"d": pd.Series([Decimal("1"), Decimal("sNaN"), None], dtype=object)}),
        pd.DataFrame({"s": pd.Series([Decimal("sNaN"), "a", 10**5000], dtype=object)}),
        pd.DataFrame(
            {
                "when": pd.Series(
                    [dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2, tzinfo=utc)], dtype=object
                ),
                "revenue": [1, 2],
            }
        ),
        pd.DataFrame(
            {
                "when": pd.date_range("2026-01-01", periods=3, freq="h", tz="America/New_York"),
                "revenue": [3, 1, 2],
            }
        ),
        pd.DataFrame(
            {
                "td": pd.to_timedelta([1], unit="D"),
                "c": [1 + 2j],
                "b": [True],
                "p": pd.period_range("2026-01", periods=1, freq="M"),
                "cat": pd.Categorical([3]),
                "s": pd.array([None], dtype="string"),
            }
        ),
    ]
    for frame in frames:
        for audience in ("analyst", "general"):
            analysis = run(frame, audience=audience)
            assert analysis.summary and analysis.recommendations
    assert metric(run(frames[0]), "x").total == 4
    assert run(frames[1]).metrics[0].column == "sales / 2026"
    assert run(frames[6]).trend.peak.when == dt.datetime(
        2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )


def test_a_million_rows_sum_exactly():
    rng = np.random.default_rng(11)
    units = rng.integers(-(2**62), 2**62, 1_000_000)
    frame = pd.DataFrame(
        {
            "region": rng.choice(np.array(REGIONS), 1_000_000),
            "day": pd.Timestamp("2026-11-16") + pd.to_timedelta(rng.integers(0, 7, 1_000_000), "D"),
            "units": units,
        }
    )
    analysis = run(frame)
    assert metric(analysis, "units").total == sum(units.tolist())
    by_region: dict[str, int] = {}
    for region, value in zip(frame["region"].tolist(), units.tolist(), strict=True):
        by_region[region] = by_region.get(region, 0) + value
    ranked = sorted(by_region.items(), key=lambda item: (-item[1], item[0]))[:3]
    assert analysis.categories[0].values == tuple(ranked)
    assert analysis.trend is not None and analysis.trend.points == 7


INT_COLUMN = "n_int"
DECIMAL_COLUMN = "n_dec"
SPECIAL_DECIMALS = [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]

cells = {
    "int64": st.one_of(st.none(), st.integers(-(2**63), INT64_MAX)),
    "bigint": st.one_of(st.none(), st.integers(-(10**30), 10**30)),
    "decimal": st.one_of(
        st.none(),
        st.decimals(min_value=-(10**15), max_value=10**15, places=3, allow_nan=False),
        st.sampled_from(SPECIAL_DECIMALS),
    ),
    "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "text": st.one_of(st.none(), st.sampled_from(["North", "South", "", "é", "<!channel>"])),
    "date": st.one_of(st.none(), st.dates(dt.date(2026, 11, 10), dt.date(2026, 11, 25))),
    "mixed": st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=3),
        st.floats(),
        st.sampled_from(SPECIAL_DECIMALS),
        st.dates(),
        st.booleans(),
    ),
}
column_names = st.one_of(
    st.sampled_from(["revenue", "units", "region", "day", "value", "Total", ""]),
    st.integers(-3, 3),
    st.text(max_size=4),
).filter(lambda name: not str(name).startswith("n_"))


@st.composite
def frames(draw):
    rows = draw(st.integers(0, 25))
    kinds = draw(st.lists(st.sampled_from(sorted(cells)), max_size=6))
    columns, names, expected = [], [], {}
    for index, kind in enumerate(kinds):
        values = draw(st.lists(cells[kind], min_size=rows, max_size=rows))
        if kind == "int64":
            name = f"{INT_COLUMN}{index}"
            expected[name] = sum(v for v in values if v is not None)
            columns.append(pd.Series(values, dtype="Int64"))
        elif kind == "bigint":
            name = f"{INT_COLUMN}{index}"
            present = [v for v in values if v is not None]
            if present:
                expected[name] = sum(present)
            columns.append(pd.Series(values, dtype=object))
        elif kind == "decimal":
            name = f"{DECIMAL_COLUMN}{index}"
            finite = [v for v in values if v is not None and v.is_finite()]
            if any(v is not None and not v.is_nan() for v in values):
                with decimal.localcontext(EXACT):
                    expected[name] = sum(finite, Decimal(0)) if finite else 0
            columns.append(pd.Series(values, dtype=object))
        elif kind == "float":
            name = draw(column_names)
            columns.append(pd.Series(values, dtype="float64"))
        else:
            name = draw(column_names)
            columns.append(pd.Series(values, dtype=object))
        names.append(name)
    frame = pd.DataFrame({i: column for i, column in enumerate(columns)}, index=range(rows))
    frame.columns = names
    return frame, expected


@pytest.mark.filterwarnings("error")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames(),
    st.sampled_from(["day", "week", "month", "period"]),
    st.sampled_from(["analyst", "general"]),
    st.booleans(),
)
def test_random_frames_never_raise_and_sum_exactly(case, period, audience, truncated):
    frame, expected = case
    analysis = run(frame, period=period, audience=audience, truncated=truncated)
    assert analysis.row_count == len(frame)
    assert analysis.summary and analysis.recommendations
    totals = {m.column: m.total for m in analysis.metrics}
    assert {name: totals[name] for name in expected} == expected
    assert run(frame, period=period, audience=audience, truncated=truncated) == analysis
    for m in analysis.metrics:
        assert all(
            v is None or type(v) in (int, float, Decimal)
            for v in dataclasses.astuple(m)[1:]
        )
