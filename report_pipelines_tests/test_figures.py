"""Figures in AI-written prose are checked against what the run computed: every format is read,
identifiers are not figures, rounding is accepted exactly as far as the display allows, and the
statistical analyst's own sentences always pass."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from report_pipelines.analysts.figures import (
    Evidence,
    Figure,
    check_text,
    evidence_from,
    extract_figures,
    sentences,
    supported,
    unsupported_figures,
    verify_analysis,
)
from report_pipelines.analysts.statistical import analyze
from report_pipelines.analysts.types import Analysis
from report_pipelines_tests.test_statistical import WINDOW
FIRST_DAY, END_DAY = dt.date(2026, 11, 16), dt.date(2026, 11, 23)
NOV_26 = Decimal(dt.date(2026, 11, 26).toordinal())
DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range(4)]


def run(frame: pd.DataFrame, **kwargs) -> Analysis:
    options = {"window": WINDOW, "period": "week", "audience": "analyst", "truncated": False}
    return analyze(frame, **(options | {"report_name": "Sales"} | kwargs))


def evidence_of(frame: pd.DataFrame, analysis: Analysis, **kwargs) -> Evidence:
    return evidence_from(
        analysis, frame, window_start=FIRST_DAY, window_end=END_DAY, labels=["Sales"], **kwargs
    )


def one(text: str) -> Figure:
    (figure,) = extract_figures(text)
    return figure


def shape(figure: Figure) -> tuple:
    return (figure.text, figure.value, figure.kind, figure.decimals, figure.scale)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7", ("7", Decimal(7), "number", 0, 1)),
        ("1234", ("1234", Decimal(1234), "number", 0, 1)),
        ("1,234,567.89", ("1,234,567.89", Decimal("1234567.89"), "number", 2, 1)),
        ("-3.5", ("-3.5", Decimal("-3.5"), "number", 1, 1)),
        ("\u22123.5", ("\u22123.5", Decimal("-3.5"), "number", 1, 1)),
        ("$1,234.5k", ("$1,234.5k", Decimal(1234500), "number", 1, 1000)),
        ("-$3.50", ("-$3.50", Decimal("-3.5"), "number", 2, 1)),
        ("€3.4M", ("€3.4M", Decimal(3400000), "number", 1, 10**6)),
        ("£5", ("£5", Decimal(5), "number", 0, 1)),
        ("¥100", ("¥100", Decimal(100), "number", 0, 1)),
        ("US$12", ("US$12", Decimal(12), "number", 0, 1)),
        ("USD 12", ("USD 12", Decimal(12), "number", 0, 1)),
        ("12 EUR", ("12 EUR", Decimal(12), "number", 0, 1)),
        ("12.5%", ("12.5%", Decimal("12.5"), "percent", 1, 1)),
        ("12.5 %", ("12.5 %", Decimal("12.5"), "percent", 1, 1)),
        ("12.5 percent", ("12.5 percent", Decimal("12.5"), "percent", 1, 1)),
        ("12.5 pct", ("12.5 pct", Decimal("12.5"), "percent", 1, 1)),
        ("+5.2%", ("+5.2%", Decimal("5.2"), "percent", 1, 1)),
        ("-5.2%", ("-5.2%", Decimal("-5.2"), "percent", 1, 1)),
        ("1.2k", ("1.2k", Decimal(1200), "number", 1, 1000)),
        ("1.2K", ("1.2K", Decimal(1200), "number", 1, 1000)),
        ("3.4 M", ("3.4 M", Decimal(3400000), "number", 1, 10**6)),
        ("3.4m", ("3.4m", Decimal(3400000), "number", 1, 10**6)),
        ("2 million", ("2 million", Decimal(2000000), "number", 0, 10**6)),
        ("4 thousand", ("4 thousand", Decimal(4000), "number", 0, 1000)),
        ("1.5bn", ("1.5bn", Decimal(1500000000), "number", 1, 10**9)),
        ("1.5B", ("1.5B", Decimal(1500000000), "number", 1, 10**9)),
        ("1.5 billion", ("1.5 billion", Decimal(1500000000), "number", 1, 10**9)),
        ("2x", ("2x", Decimal(2), "number", 0, 1)),
        ("*1,234*", ("1,234", Decimal(1234), "number", 0, 1)),
        ("_12%_", ("12%", Decimal(12), "percent", 0, 1)),
        ("1.2346e+15", ("1.2346e+15", Decimal("1.2346e15"), "number", 4, Decimal("1e15"))),
        ("1.235e-05", ("1.235e-05", Decimal("1.235e-5"), "number", 3, Decimal("1e-5"))),
        ("2026-11-26", ("2026-11-26", NOV_26, "date", 0, 1)),
        ("2026-11-26 09:00", ("2026-11-26 09:00", NOV_26, "date", 0, 1)),
        ("2026-11-26T09:00:00Z", ("2026-11-26T09:00:00Z", NOV_26, "date", 0, 1)),
        ("26 November 2026", ("26 November 2026", NOV_26, "date", 0, 1)),
        ("26th of November 2026", ("26th of November 2026", NOV_26, "date", 0, 1)),
        ("November 26, 2026", ("November 26, 2026", NOV_26, "date", 0, 1)),
        ("Nov 26 2026", ("Nov 26 2026", NOV_26, "date", 0, 1)),
        ("Nov 26", ("Nov 26", Decimal(1126), "monthday", 0, 1)),
        ("Nov. 26th", ("Nov. 26th", Decimal(1126), "monthday", 0, 1)),
        ("26 Nov", ("26 Nov", Decimal(1126), "monthday", 0, 1)),
        ("2026-02-30", ("2026-02-30", Decimal(0), "date", 0, 1)),
    ],
)
def test_extracts_each_format(text, expected):
    assert shape(one(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Q3",
        "H1",
        "p95",
        "revenue_2024",
        "gemini-2",
        "v1.2",
        "B2B",
        "4.5.6",
        "120ms",
        "`like_this_7`",
        "``` total = 987 ```",
        "<https://example.com/r/987|report 987>",
        "<@U0123456>",
        "https://example.com/a/987?b=654",
        "ops-987@example.com",
        "09:00",
        "9:30 pm",
        "9am",
        "1st",
        "2nd",
        "3rd",
        "4th",
        "1990s",
        ":100:",
        "1. ",
        "2) ",
        "  12. ",
    ],
)
def test_non_figures(text):
    assert extract_figures(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("between 10-20 units", [("10", 10, "number"), ("20", 20, "number")]),
        ("2024-2025", [("2024", 2024, "number"), ("2025", 2025, "number")]),
        ("up 12-15%", [("12", 12, "percent"), ("15%", 15, "percent")]),
        ("1.2-1.5M", [("1.2", 1200000, "number"), ("1.5M", 1500000, "number")]),
        ("Nov 16–22", [("Nov 16", 1116, "monthday"), ("22", 22, "number")]),
        ("In November 2026", [("2026", 2026, "number")]),
        ("1. Revenue rose 5%", [("5%", 5, "percent")]),
        ("Q3 revenue_2024 was 1,234 at 09:00 on 2026-11-26", [
            ("1,234", 1234, "number"), ("2026-11-26", NOV_26, "date")
        ]),
        ("the 3rd region, H1 growth 7%", [("7%", 7, "percent")]),
    ],
)
def test_extracts_figures_in_context(text, expected):
    assert [(f.text, f.value, f.kind) for f in extract_figures(text)] == expected


COMPUTED = Evidence(
    numbers={Decimal("1234.567"), Decimal("0.125"), Decimal("-120")},
    percents={Decimal("12.34")},
    dates={dt.date(2026, 11, 26)},
    words={Decimal(412)},
)


@pytest.mark.parametrize(
    "text, expected",
    [
        # 1234.567 as displayed at each precision, and just past each.
        ("1,234.567", True),
        ("1,234.57", True),
        ("1,234.58", False),
        ("1,234.56", True),  # truncated
        ("1,234.55", False),
        ("1,234.6", True),
        ("1,234.5", True),  # truncated
        ("1,234.7", False),
        ("1,235", True),
        ("1,234", True),  # truncated
        ("1,236", False),
        ("1,233", False),
        ("1.2k", True),
        ("1.3k", False),
        ("1.1k", False),
        ("$1,234.57", True),
        ("-1,234.57", True),
        ("1234.57%", False),
        # 0.125: half-even gives 0.12, half-up 0.13.
        ("0.12", True),
        ("0.13", True),
        ("0.11", False),
        ("0.14", False),
        # A negative value quoted without its sign.
        ("fell 120", True),
        ("-120", True),
        ("121", False),
        # The percentage 12.34.
        ("12.34%", True),
        ("12.3%", True),
        ("12%", True),
        ("-12.3%", True),
        ("12.35%", False),
        ("12.4%", False),
        ("13%", False),
        ("11%", False),
        ("17%", False),
        ("12.34", False),
        ("100%", True),
        ("0%", True),
        ("0.0%", True),
        ("101%", False),
        # Invented totals.
        ("987,654", False),
        ("$987.7k", False),
        # Counts up to ten need no evidence; currency, decimals or a scale make them figures.
        ("0", True),
        ("3", True),
        ("10", True),
        ("11", False),
        ("$3", False),
        ("3.0", False),
        ("3k", False),
        # Years of computed dates; numbers in names.
        ("2026", True),
        ("2025", False),
        ("412", True),
        ("413", False),
        # Dates.
        ("2026-11-26", True),
        ("2026-11-26 09:00", True),
        ("2026-11-27", False),
        ("November 26, 2026", True),
        ("26 November 2025", False),
        ("Nov 26", True),
        ("Nov 27", False),
        ("2026-02-30", False),
    ],
)
def test_supported_within_displayed_rounding(text, expected):
    assert supported(one(text), COMPUTED) is expected


@pytest.mark.parametrize(
    "line, expected",
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Revenue rose 1.5% to 3.2k. Costs fell.", ["Revenue rose 1.5% to 3.2k.", "Costs fell."]),
        ("Differ, e.g. North vs. South. Next.", ["Differ, e.g. North vs. South.", "Next."]),
        ("Costs approx. 3 units; margins held.", ["Costs approx. 3 units; margins held."]),
        ("Costs were low i.e. Fine here.", ["Costs were low i.e. Fine here."]),
        ("Peak on Nov. 26 was high.", ["Peak on Nov. 26 was high."]),
        ("Revenue was 1,234. 5 regions reported.", ["Revenue was 1,234.", "5 regions reported."]),
        ("It was 1,234. and then more.", ["It was 1,234. and then more."]),
        ("See https://example.com/a. Next one.", ["See https://example.com/a.", "Next one."]),
        ("Use `a. B` here. Done.", ["Use `a. B` here.", "Done."]),
        ("*Revenue rose.* Costs fell.", ["*Revenue rose.*", "Costs fell."]),
        ("Trailing space.  ", ["Trailing space."]),
        ("", []),
    ],
)
def test_sentences(line, expected):
    assert sentences(line) == expected


@pytest.mark.parametrize(
    "text, kept, removed, unsupported",
    [
        ("Revenue was 1,234.57. It rose 12%.", "Revenue was 1,234.57. It rose 12%.", [], []),
        (
            "Revenue was 1,234.57. Orders hit 987,654.  It rose 12%.",
            "Revenue was 1,234.57. It rose 12%.",
            ["Orders hit 987,654."],
            ["987,654"],
        ),
        (
            "• Revenue was 1.2k. Margin grew 17%.\n• Orders hit 987,654 on Nov 27.\n• Done.",
            "• Revenue was 1.2k.\n• Done.",
            ["Margin grew 17%.", "Orders hit 987,654 on Nov 27."],
            ["17%", "987,654", "Nov 27"],
        ),
        ("Margin grew 17%.", "", ["Margin grew 17%."], ["17%"]),
        (
            "Para one is 1,235.\n\nBad 17%.\n\nPara two.",
            "Para one is 1,235.\n\nPara two.",
            ["Bad 17%."],
            ["17%"],
        ),
    ],
)
def test_check_text(text, kept, removed, unsupported):
    check = check_text(text, COMPUTED)
    assert (check.kept, check.removed, check.unsupported) == (kept, removed, unsupported)


def test_check_text_counts_every_figure():
    assert check_text("1,235 and 17% on 2026-11-26. Q3 was 3.", COMPUTED).checked == 4


SALES = pd.DataFrame(
    {
        "day": DAYS * 2,
        "region": ["North", "South", "East", "West"] * 2,
        "revenue": [120, 340, 560, 90, 110, 300, 500, 95],
        "units": [1.5, 2.25, 3.125, 4.0, 5.5, 6.75, 7.0, 8.25],
    }
)


def test_evidence_from_collects_the_computed_figures():
    analysis = run(SALES)
    evidence = evidence_of(SALES, analysis, extra_numbers=[-75], extra_percents=[Decimal("4.2")])
    assert analysis.metrics[0].total == 2115
    metrics = {Decimal(2115), Decimal("264.38"), Decimal(90), Decimal(560), Decimal(8)}
    assert metrics <= evidence.numbers
    # East leads with 1,060 of 2,115; the three listed values sum to 1,930.
    assert {Decimal(1060), Decimal(1930), Decimal(185), Decimal(3), Decimal(4)} <= evidence.numbers
    assert Decimal("50.1") in evidence.percents
    # The trend: 230 -> 185, a change of -45 (-19.6%), quoted either way round.
    assert {Decimal(-45), Decimal(45), Decimal(75), Decimal(-75)} <= evidence.numbers
    assert {Decimal("-19.6"), Decimal("19.6"), Decimal("4.2")} <= evidence.percents
    # The window, its last day inside, cells, and the numbers of dates and labels.
    assert {FIRST_DAY, END_DAY, dt.date(2026, 11, 22), DAYS[3]} <= evidence.dates
    assert {Decimal("3.125"), Decimal("8.25")} <= evidence.numbers
    assert {Decimal(16), Decimal(11), Decimal(2026), Decimal(7)} <= evidence.words


def test_evidence_from_frame_cells_names_and_rates():
    frame = pd.DataFrame(
        {
            "store 0412": ["Store 77 North", "2026-12-01", None],
            "conversion_rate": [0.125, float("nan"), float("inf")],
            "revenue": pd.array([5, None, 987654], dtype="Int64"),
            "flag": [True, False, True],
        }
    )
    evidence = evidence_from(run(frame), frame, labels=["Sales 2031"])
    assert {Decimal(412), Decimal(77), Decimal(2031)} <= evidence.words
    assert dt.date(2026, 12, 1) in evidence.dates
    assert {Decimal("0.125"), Decimal(987654)} <= evidence.numbers
    assert {Decimal("0.125"), Decimal("12.5")} <= evidence.percents
    assert all(number.is_finite() for number in evidence.numbers | evidence.percents)


@pytest.mark.parametrize("row, inside", [(4999, True), (5000, False)])
def test_evidence_reads_the_first_5000_rows(row, inside):
    frame = pd.DataFrame({"value": [10**6 + i for i in range(6000)]})
    analysis = dataclasses.replace(run(frame), metrics=[], categories=[], trend=None)
    assert (Decimal(10**6 + row) in evidence_from(analysis, frame).numbers) is inside


def ai_analysis(analysis: Analysis, **text) -> Analysis:
    return dataclasses.replace(analysis, **text)


def test_verify_analysis_keeps_data_figures_and_drops_invented_ones():
    statistical = run(SALES)
    evidence = evidence_of(SALES, statistical)
    ai = ai_analysis(
        statistical,
        summary=(
            "Revenue reached $2.1k this week (average 264.4 per row). "
            "Orders climbed to 987,654. East brought in 50% of revenue."
        ),
        insights=[
            "Revenue fell 19.6% from 230 on Nov 16 to 185 on 2026-11-19.",
            "Margins grew 17% thanks to pricing.",
            "East led with 1,060, ahead of South at 640.",
        ],
        recommendations=[
            "Check why the West region dropped 45 units.",
            "Aim for 1.5M next week.",
        ],
    )
    verified, check = verify_analysis(ai, evidence, fallback_summary="statistical")
    assert verified.summary == (
        "Revenue reached $2.1k this week (average 264.4 per row). "
        "East brought in 50% of revenue."
    )
    assert verified.insights == [
        "Revenue fell 19.6% from 230 on Nov 16 to 185 on 2026-11-19.",
        "East led with 1,060, ahead of South at 640.",
    ]
    assert verified.recommendations == ["Check why the West region dropped 45 units."]
    assert check.unsupported == ["987,654", "17%", "1.5M"]
    assert check.removed == [
        "Orders climbed to 987,654.",
        "Margins grew 17% thanks to pricing.",
        "Aim for 1.5M next week.",
    ]
    assert check.summary_replaced is False
    assert check.checked == 14
    assert verified.notes == [
        *statistical.notes,
        "Removed 3 AI sentences whose figures are not in the data.",
    ]
    assert ai.summary.startswith("Revenue reached") and len(ai.insights) == 3


def test_verify_analysis_replaces_an_invented_summary():
    statistical = run(SALES)
    evidence = evidence_of(SALES, statistical)
    ai = ai_analysis(
        statistical,
        summary="Revenue hit $9.9M, up 42% on last week. Customers loved it.",
        insights=["East grew 71%."],
        recommendations=[],
    )
    verified, check = verify_analysis(ai, evidence, fallback_summary=statistical.summary)
    assert verified.summary == statistical.summary
    assert verified.insights == []
    assert check.summary_replaced is True
    assert verified.notes[-2:] == [
        "The AI summary stated figures that are not in the data; showing the statistical summary.",
        "Removed 1 AI sentence whose figures are not in the data.",
    ]


def test_verify_analysis_keeps_a_summary_that_still_has_figures():
    statistical = run(SALES)
    ai = ai_analysis(statistical, summary="Revenue came to 2,115. It is up 42%.")
    verified, check = verify_analysis(ai, evidence_of(SALES, statistical), fallback_summary="x")
    assert (verified.summary, check.summary_replaced) == ("Revenue came to 2,115.", False)
    assert verified.notes[-1] == "Removed 1 AI sentence whose figures are not in the data."


def test_verify_analysis_notes_name_no_invented_figure():
    statistical = run(SALES)
    invented = " ".join(f"Region {i} made {i}11,111." for i in range(1, 8))
    ai = ai_analysis(statistical, summary=invented)
    verified, check = verify_analysis(ai, evidence_of(SALES, statistical), fallback_summary="s")
    assert check.summary_replaced and len(check.unsupported) == 7
    # Notes reach Slack: they name no invented figure.
    assert not any("111,111" in note for note in verified.notes)


def test_unsupported_figures_deduplicated_in_order():
    statistical = run(SALES)
    ai = ai_analysis(
        statistical,
        summary="Up 42%. Revenue 2,115.",
        insights=["Down 17% and 42%."],
        recommendations=["Aim for 42%."],
    )
    assert unsupported_figures(ai, evidence_of(SALES, statistical)) == ["42%", "17%"]


def test_verify_analysis_without_figures_changes_nothing():
    statistical = run(SALES)
    evidence = evidence_of(SALES, statistical)
    verified, check = verify_analysis(statistical, evidence, fallback_summary="x")
    assert verified == statistical and verified is not statistical
    assert (check.removed, check.unsupported, check.summary_replaced) == ([], [], False)
    assert check.checked > 10


FRAMES = {
    "category": pd.DataFrame(
        {"region": ["North", "South", "East", "North", "West"], "revenue": [700, 300, 234, 50, 13]}
    ),
    "trend_decimals": pd.DataFrame(
        {
            "day": DAYS * 2,
            "revenue": [Decimal("1234.56") * (i + 1) for i in range(8)],
            "store": ["A", "B"] * 4,
        }
    ),
    "falling_floats": pd.DataFrame(
        {
            "day": DAYS * 2,
            "revenue": [1000.123 / (i + 1) for i in range(8)],
            "price": [0.123456] * 8,
        }
    ),
    "timestamps": pd.DataFrame(
        {
            "at": pd.to_datetime(["2026-11-16 09:00", "2026-11-16 10:00", "2026-11-17 09:30"]),
            "sales": [1.5, 2.25, 1.5000001],
        }
    ),
    "nearly_flat": pd.DataFrame({"day": DAYS[:2], "revenue": [100000, 100001]}),
    "rows_only": pd.DataFrame({"region": ["N"] * 7 + ["S"] * 3}),
    "many_columns": pd.DataFrame({f"m{i}": [i, i * 2.5, 7] for i in range(12)}),
    "non_finite": pd.DataFrame({"revenue": [1.0, float("inf"), 2.0] * 5}),
    "empty": pd.DataFrame(
        {"region": pd.Series([], dtype=object), "revenue": pd.Series([], dtype=float)}
    ),
}


@pytest.mark.parametrize("truncated", [False, True])
@pytest.mark.parametrize("audience", ["analyst", "general"])
@pytest.mark.parametrize("name", list(FRAMES))
def test_statistical_text_passes(name, audience, truncated):
    frame = FRAMES[name]
    analysis = run(frame, audience=audience, truncated=truncated)
    evidence = evidence_of(frame, analysis)
    for text in [analysis.summary, *analysis.insights, *analysis.recommendations]:
        check = check_text(text, evidence)
        assert (check.removed, check.kept) == ([], text)
    verified, result = verify_analysis(analysis, evidence, fallback_summary="unused")
    assert verified == analysis and result.checked > 0
