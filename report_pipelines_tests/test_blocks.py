"""The Block Kit formatter: Slack's limits at their exact boundaries, escaping, exact figures,
and property tests that no data can produce a payload Slack would reject."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from report_pipelines.analysts.types import (
    Analysis,
    CategoryTop,
    ColumnMetrics,
    Trend,
    TrendPoint,
)
from report_pipelines.models import ReportWindow
from report_pipelines.slack import blocks as blocks_module
from report_pipelines.slack import limits
from report_pipelines.slack.blocks import (
    MAX_BLOCKS,
    MAX_CONTEXT_ELEMENTS,
    MAX_FALLBACK_CHARS,
    MAX_FIELD_CHARS,
    MAX_FIELDS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    TABLE_CELL_CHARS,
    TABLE_MAX_COLUMNS,
    TABLE_MAX_ROWS,
    ReportMessage,
    build_report_message,
    validate_message,
)
from report_pipelines.formatting import escape, format_number

LONDON = ZoneInfo("Europe/London")
WINDOW = ReportWindow(
    partition_key="2026-11-26-09:00",
    start=dt.datetime(2026, 11, 26, 9, tzinfo=LONDON),
    end=dt.datetime(2026, 11, 27, 9, tzinfo=LONDON),
    timezone="Europe/London",
)
RUN_URL = "https://dagster.example.com/runs/5f0c2a?tab=logs&step=deliver"
RUN_LINK = "<https://dagster.example.com/runs/5f0c2a?tab=logs&amp;step=deliver|View run in Dagster>"
HOSTILE = ["<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>", "a & b"]
# Only the three entities Slack defines may follow a raw "&" in the payload.
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def make_analysis(**overrides) -> Analysis:
    values = dict(analyst="rule-based", row_count=3, truncated=False, summary="Sales rose.")
    values.update(overrides)
    return Analysis(**values)


def make_message(frame: pd.DataFrame | None = None, **overrides) -> ReportMessage:
    frame = frame if frame is not None else pd.DataFrame({"region": ["North"], "revenue": [10]})
    values = dict(
        name="Daily Sales",
        description="Revenue by region",
        window=WINDOW,
        run_time=dt.datetime(2026, 11, 27, 9, 5, tzinfo=dt.timezone.utc),
        frame=frame,
        total_rows=len(frame),
        truncated=False,
        analysis=make_analysis(row_count=len(frame)),
        run_url=RUN_URL,
        generated_at=dt.datetime(2026, 11, 27, 9, 6, tzinfo=dt.timezone.utc),
    )
    values.update(overrides)
    return ReportMessage(**values)


def all_texts(blocks: list[dict]) -> list[str]:
    """Every text string in the payload, wherever it sits."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def assert_safe(blocks: list[dict], text: str) -> None:
    """No raw `<`, `>` or bare `&` from data: the only markup is the run link we build."""
    payload = json.dumps(blocks, ensure_ascii=False).replace(RUN_LINK, "") + text
    assert "<" not in payload and ">" not in payload
    assert not BARE_AMPERSAND.search(payload)


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fields(count: int, length: int = 10) -> dict:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * length}] * count}


def context(count: int, length: int = 10) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * length}] * count}


@pytest.mark.parametrize(
    ("blocks", "valid"),
    [
        ([header("x" * MAX_HEADER_CHARS)], True),
        ([header("x" * (MAX_HEADER_CHARS + 1))], False),
        ([section("x" * MAX_SECTION_CHARS)], True),
        ([section("x" * (MAX_SECTION_CHARS + 1))], False),
        ([fields(MAX_FIELDS)], True),
        ([fields(MAX_FIELDS + 1)], False),
        ([fields(1, MAX_FIELD_CHARS)], True),
        ([fields(1, MAX_FIELD_CHARS + 1)], False),
        ([{"type": "divider"}] * MAX_BLOCKS, True),
        ([{"type": "divider"}] * (MAX_BLOCKS + 1), False),
        ([context(MAX_CONTEXT_ELEMENTS)], True),
        ([context(MAX_CONTEXT_ELEMENTS + 1)], False),
        ([context(1, 3000)], True),
        ([context(1, 3001)], False),
        ([header("")], False),
        ([section("")], False),
        ([section("  \n ")], False),
        ([fields(1, 0)], False),
        ([context(1, 0)], False),
        ([{"type": "section"}], False),
        ([{"type": "section", "fields": []}], False),
        ([{"type": "context", "elements": []}], False),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], False),
        ([{"type": "carousel"}], False),
        (["not a block"], False),
    ],
    ids=[
        "header-150",
        "header-151",
        "section-3000",
        "section-3001",
        "fields-10",
        "fields-11",
        "field-2000",
        "field-2001",
        "blocks-50",
        "blocks-51",
        "context-elements-10",
        "context-elements-11",
        "context-text-3000",
        "context-text-3001",
        "empty-header",
        "empty-section",
        "blank-section",
        "empty-field",
        "empty-context",
        "section-without-text-or-fields",
        "section-with-no-fields",
        "context-without-elements",
        "mrkdwn-header",
        "unknown-block-type",
        "block-not-object",
    ],
)
def test_validate_message_limits(blocks, valid):
    problems = validate_message(blocks, "fallback")
    assert (problems == []) is valid, problems


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("x" * MAX_FALLBACK_CHARS, True),
        ("x" * (MAX_FALLBACK_CHARS + 1), False),
        ("", False),
        (" ", False),
    ],
    ids=["fallback-3000", "fallback-3001", "fallback-empty", "fallback-blank"],
)
def test_validate_message_fallback_text(text, valid):
    assert (validate_message([section("ok")], text) == []) is valid


def mrkdwn(length: int) -> MarkdownTextObject:
    return MarkdownTextObject(text="x" * length)


# Each limit as slack_sdk models at a given size, and whether slack_sdk's to_dict() checks it.
SIZED_LIMITS = {
    "header-chars": (
        lambda n: [HeaderBlock(text=PlainTextObject(text="x" * n, emoji=True))],
        limits.MAX_HEADER_CHARS,
        True,
    ),
    "section-chars": (lambda n: [SectionBlock(text=mrkdwn(n))], limits.MAX_SECTION_CHARS, True),
    "fields": (lambda n: [SectionBlock(fields=[mrkdwn(1)] * n)], limits.MAX_FIELDS, True),
    "context-elements": (
        lambda n: [ContextBlock(elements=[mrkdwn(1)] * n)],
        limits.MAX_CONTEXT_ELEMENTS,
        True,
    ),
    "block-id-chars": (
        lambda n: [DividerBlock(block_id="x" * n)],
        limits.MAX_BLOCK_ID_CHARS,
        True,
    ),
    "blocks": (lambda n: [DividerBlock() for _ in range(n)], limits.MAX_BLOCKS, False),
    "field-chars": (lambda n: [SectionBlock(fields=[mrkdwn(n)])], limits.MAX_FIELD_CHARS, False),
    "context-text-chars": (
        lambda n: [ContextBlock(elements=[mrkdwn(n)])],
        limits.MAX_CONTEXT_TEXT_CHARS,
        False,
    ),
}


@pytest.mark.parametrize("name", list(SIZED_LIMITS))
def test_each_limit_at_its_boundary_in_slack_sdk_and_validate_message(name):
    build, limit, slack_sdk_checks = SIZED_LIMITS[name]
    at_limit = [block.to_dict() for block in build(limit)]
    assert limits.validate_message(at_limit, "fallback") == []

    over = build(limit + 1)
    # get_non_null_attributes() serialises without slack_sdk's checks: validate_message must
    # catch the payload whoever built it.
    assert limits.validate_message([b.get_non_null_attributes() for b in over], "fallback")
    if slack_sdk_checks:
        with pytest.raises(SlackObjectFormationError):
            [block.to_dict() for block in over]
    else:
        assert limits.validate_message([block.to_dict() for block in over], "fallback")


@pytest.mark.parametrize(
    "block",
    [
        SectionBlock(text=MarkdownTextObject(text="")),
        SectionBlock(text=MarkdownTextObject(text=" \n ")),
        HeaderBlock(text=PlainTextObject(text="", emoji=True)),
        ContextBlock(elements=[MarkdownTextObject(text="")]),
        ContextBlock(elements=[]),
        HeaderBlock(text=mrkdwn(1)),
    ],
    ids=[
        "empty-section",
        "blank-section",
        "empty-header",
        "empty-context-text",
        "context-without-elements",
        "mrkdwn-header",
    ],
)
def test_slack_sdk_serialises_what_slack_refuses_and_validate_message_catches_it(block):
    assert limits.validate_message([block.to_dict()], "fallback")


@pytest.mark.parametrize(
    ("ours", "slack_sdks"),
    [
        (limits.MAX_HEADER_CHARS, HeaderBlock.text_max_length),
        (limits.MAX_SECTION_CHARS, SectionBlock.text_max_length),
        (limits.MAX_FIELDS, SectionBlock.fields_max_length),
        (limits.MAX_CONTEXT_ELEMENTS, ContextBlock.elements_max_length),
        (limits.MAX_BLOCK_ID_CHARS, Block.block_id_max_length),
    ],
    ids=["header-chars", "section-chars", "fields", "context-elements", "block-id-chars"],
)
def test_our_limits_agree_with_slack_sdk(ours, slack_sdks):
    assert ours == slack_sdks


def test_limits_and_the_validator_are_importable_from_blocks():
    names = [name for name in vars(limits) if name.startswith("MAX_")] + ["validate_message"]
    for name in names:
        assert getattr(blocks_module, name) is getattr(limits, name), name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("&lt;", "&amp;lt;"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_escape(raw, expected):
    assert escape(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (1234, "1,234"),
        (-1234567, "-1,234,567"),
        (Decimal("1234.50"), "1,234.50"),
        (Decimal("-0.10"), "-0.10"),
        (Decimal("1E+3"), "1,000"),
        (1234.0, "1,234"),
        (1234.5678, "1,234.57"),
        (0.123456, "0.1235"),
        (-0.000123456, "-0.0001235"),
        (float("nan"), "NaN"),
        (float("inf"), "∞"),
        (float("-inf"), "-∞"),
        (None, "—"),
        (True, "True"),
        (False, "False"),
        (10**40, "1.0000e+40"),
        pytest.param(10**5000, "1.0000e+5000", id="int-of-5000-digits"),
        (1e300, "1.0000e+300"),
        (Decimal("1E-40"), "1.0000e-40"),
        ("text", "text"),
    ],
)
def test_format_number(value, expected):
    assert format_number(value) == expected


def test_the_message_is_what_slack_sdks_models_serialise_to():
    blocks, _ = build_report_message(make_message())
    table = "```\nregion  revenue\n------  -------\nNorth        10\n```"
    run = "🗓 2026-11-26 09:00 → 2026-11-27 09:00 Europe/London · Run 2026-11-27 09:05 GMT"
    expected = [
        HeaderBlock(text=PlainTextObject(text="📊 Daily Sales", emoji=True)),
        ContextBlock(elements=[MarkdownTextObject(text=run)]),
        SectionBlock(text=MarkdownTextObject(text="Revenue by region")),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text="*Summary*\nSales rose.")),
        SectionBlock(
            text=MarkdownTextObject(text="*Key Metrics*"),
            fields=[MarkdownTextObject(text="*Rows*\n1")],
        ),
        SectionBlock(text=MarkdownTextObject(text=table)),
        DividerBlock(),
        ContextBlock(
            elements=[
                MarkdownTextObject(text="Generated 2026-11-27 09:06 GMT by rule-based"),
                MarkdownTextObject(text=RUN_LINK),
            ]
        ),
    ]
    assert blocks == [block.to_dict() for block in expected]


def test_every_block_reads_back_into_slack_sdk_unchanged():
    point = TrendPoint(dt.date(2026, 11, 26), 1)
    analysis = make_analysis(
        insights=["<!channel> up"] * 30,
        recommendations=["keep going"],
        metrics=[ColumnMetrics(f"c{i}", 1, i, i, i, i) for i in range(40)],
        categories=[CategoryTop("region", "rows", 2, (("North", 1), ("South & East", 1)))],
        trend=Trend("day", "revenue", point, point, point, point, 1),
        notes=["a note"],
    )
    frame = pd.DataFrame({f"c{i}": range(30) for i in range(TABLE_MAX_COLUMNS + 1)})
    blocks, text = build_report_message(make_message(frame, analysis=analysis))
    # Every optional block is present: the most the layout ever makes, far below MAX_BLOCKS.
    assert len(blocks) == 18
    assert [Block.parse(block).to_dict() for block in blocks] == blocks
    assert json.loads(json.dumps(blocks)) == blocks
    assert validate_message(blocks, text) == []


@pytest.mark.parametrize(
    ("name", "truncated"),
    [("a" * (MAX_HEADER_CHARS - 2), False), ("a" * (MAX_HEADER_CHARS - 1), True)],
    ids=["header-exactly-150", "header-151-cut"],
)
def test_header_boundary(name, truncated):
    blocks, _ = build_report_message(make_message(name=name))
    title = blocks[0]["text"]["text"]
    assert len(title) <= MAX_HEADER_CHARS
    assert title.endswith("…") is truncated
    if not truncated:
        assert title == f"📊 {name}"


def test_truncation_never_splits_an_entity():
    blocks, text = build_report_message(
        make_message(name="&" * 200, analysis=make_analysis(summary="<&>" * 2000))
    )
    title = blocks[0]["text"]["text"]
    assert re.fullmatch(r"📊 (&amp;)+…", title)
    assert len(title) <= MAX_HEADER_CHARS
    assert len(text) <= MAX_FALLBACK_CHARS and not BARE_AMPERSAND.search(text)
    assert validate_message(blocks, text) == []


def test_hostile_data_is_escaped_everywhere():
    frame = pd.DataFrame({value: [value, f"x{value}"] for value in HOSTILE})
    point = TrendPoint(dt.date(2026, 11, 26), 1)
    analysis = make_analysis(
        analyst="<!channel>",
        summary=" ".join(HOSTILE),
        insights=HOSTILE,
        recommendations=HOSTILE,
        metrics=[ColumnMetrics(value, 1, 1, 1, 1, 1) for value in HOSTILE],
        categories=[CategoryTop(value, value, 2, ((value, 1),)) for value in HOSTILE[:3]],
        trend=Trend(
            time_column="<!here>",
            measure="<@U123>",
            first=point,
            last=point,
            peak=point,
            low=point,
            points=1,
        ),
        notes=HOSTILE,
    )
    message = make_message(
        frame,
        name="<!channel> & co",
        description="<https://evil.example|click> a & b",
        analysis=analysis,
    )
    blocks, text = build_report_message(message)
    assert validate_message(blocks, text) == []
    assert_safe(blocks, text)
    assert "&lt;!channel&gt;" in text
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "<!" not in dumped and "<@" not in dumped and "<http" not in dumped.replace(RUN_LINK, "")


def test_run_link_cannot_be_broken_by_its_url():
    message = make_message(run_url="https://dagster.example.com/runs/x|y>z w")
    blocks, _ = build_report_message(message)
    link = blocks[-1]["elements"][-1]["text"]
    assert link == "<https://dagster.example.com/runs/x%7Cy%3Ez%20w|View run in Dagster>"


def test_key_metrics_render_exact_figures():
    analysis = make_analysis(
        metrics=[
            ColumnMetrics(
                "revenue",
                count=3,
                total=Decimal("1234.50"),
                average=Decimal("411.50"),
                minimum=Decimal("100.00"),
                maximum=Decimal("1000.00"),
            ),
            ColumnMetrics("units", count=3, total=12345, average=4115.0, minimum=1, maximum=None),
        ]
    )
    message = make_message(analysis=analysis, total_rows=1000, truncated=True)
    blocks, _ = build_report_message(message)
    metrics = next(b for b in blocks if b.get("text", {}).get("text") == "*Key Metrics*")
    texts = [f["text"] for f in metrics["fields"]]
    assert texts == [
        "*Rows*\n1,000 (truncated at 1,000)",
        "*revenue*\nTotal: 1,234.50\nAverage: 411.50\nMin: 100.00 · Max: 1,000.00",
        "*units*\nTotal: 12,345\nAverage: 4,115\nMin: 1 · Max: —",
    ]


def test_many_numeric_columns_are_capped_with_a_note():
    metrics = [ColumnMetrics(f"c{i}", 1, i, i, i, i) for i in range(40)]
    blocks, text = build_report_message(make_message(analysis=make_analysis(metrics=metrics)))
    metric_sections = [b for b in blocks if b["type"] == "section" and "fields" in b]
    assert [len(b["fields"]) for b in metric_sections] == [MAX_FIELDS] * 3
    assert any(
        e["text"] == "11 more numeric columns not shown"
        for b in blocks
        if b["type"] == "context"
        for e in b["elements"]
    )
    assert validate_message(blocks, text) == []


def table_of(blocks: list[dict]) -> str:
    return next(t for t in all_texts(blocks) if t.startswith("```"))


def test_table_caps_rows_and_columns():
    frame = pd.DataFrame({f"col{i}": range(100) for i in range(TABLE_MAX_COLUMNS + 4)})
    blocks, _ = build_report_message(make_message(frame))
    lines = table_of(blocks).strip("`\n").split("\n")
    assert len(lines) - 2 == TABLE_MAX_ROWS
    assert lines[0].split() == [f"col{i}" for i in range(TABLE_MAX_COLUMNS)]
    assert lines[2].split() == ["0"] * TABLE_MAX_COLUMNS
    assert "Showing 20 of 100 rows · 8 of 12 columns" in all_texts(blocks)


def test_table_cells_are_cut_to_width():
    frame = pd.DataFrame({"long": ["v" * 100, "w\nx\ty"], "n": [1, 2]})
    blocks, _ = build_report_message(make_message(frame))
    lines = table_of(blocks).strip("`\n").split("\n")
    assert lines[2].split() == ["v" * (TABLE_CELL_CHARS - 1) + "…", "1"]
    assert lines[3].split() == ["w", "x", "y", "2"]
    assert not any(t.startswith("Showing") for t in all_texts(blocks))


def test_table_drops_rows_to_fit_after_escaping():
    # Each "&" becomes "&amp;", so 40 raw characters render as 200 and few rows fit.
    frame = pd.DataFrame({f"c{i}": ["&" * 100] * 50 for i in range(TABLE_MAX_COLUMNS)})
    blocks, text = build_report_message(make_message(frame))
    table = table_of(blocks)
    assert len(table) <= MAX_SECTION_CHARS
    shown = len(table.strip("`\n").split("\n")) - 2
    assert 0 < shown < TABLE_MAX_ROWS
    assert f"Showing {shown} of 50 rows" in all_texts(blocks)
    assert validate_message(blocks, text) == []


def test_backticks_cannot_close_the_code_block():
    frame = pd.DataFrame({"note": ["```*bold* <!here>```", "`x`"]})
    table = table_of(build_report_message(make_message(frame))[0])
    assert table.startswith("```\n") and table.endswith("\n```")
    assert table.count("`") == 6


def test_empty_frame_says_so():
    blocks, text = build_report_message(make_message(pd.DataFrame(), total_rows=0))
    assert "_No rows returned for this window._" in all_texts(blocks)
    assert validate_message(blocks, text) == []


def test_optional_sections_are_left_out_when_empty():
    analysis = make_analysis(summary="  ", insights=["", " "], recommendations=[])
    message = make_message(description="", analysis=analysis, run_url=None)
    blocks, text = build_report_message(message)
    texts = all_texts(blocks)
    assert not any(t.startswith(("*Summary*", "*Insights*", "*Recommendations*")) for t in texts)
    assert text == "📊 Daily Sales — 2026-11-26 09:00 → 2026-11-27 09:00 Europe/London"
    assert len(blocks[-1]["elements"]) == 1
    assert validate_message(blocks, text) == []


def test_times_are_shown_in_the_report_timezone():
    message = make_message(
        run_time=dt.datetime(2026, 7, 1, 8, 5, tzinfo=dt.timezone.utc),
        generated_at=dt.datetime(2026, 7, 1, 8, 6, tzinfo=dt.timezone.utc),
    )
    blocks, _ = build_report_message(message)
    assert blocks[1]["elements"][0]["text"].endswith("Run 2026-07-01 09:05 BST")
    assert blocks[-1]["elements"][0]["text"] == "Generated 2026-07-01 09:06 BST by rule-based"


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="run_time must be timezone-aware"):
        make_message(run_time=dt.datetime(2026, 11, 27, 9, 5))


def test_many_insights_fit_with_a_count_of_the_rest():
    analysis = make_analysis(insights=[f"insight {i} " + "x" * 500 for i in range(50)])
    blocks, text = build_report_message(make_message(analysis=analysis))
    insights = next(t for t in all_texts(blocks) if t.startswith("*Insights*"))
    assert len(insights) <= MAX_SECTION_CHARS
    shown = insights.count("\n• ")
    assert insights.endswith(f"_…and {50 - shown} more_")
    assert validate_message(blocks, text) == []


def test_rendering_is_deterministic():
    frame = pd.DataFrame({"a": [1, 2, None], "b": ["x", "<y>", "z"], 3: [Decimal("1.5")] * 3})
    analysis = make_analysis(
        insights=["one", "two"], metrics=[ColumnMetrics("a", 2, 3, 1.5, 1, 2)], notes=["n"]
    )
    first = build_report_message(make_message(frame, analysis=analysis))
    second = build_report_message(make_message(frame.copy(), analysis=analysis))
    assert first == second
    assert json.dumps(first, ensure_ascii=False) == json.dumps(second, ensure_ascii=False)


texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="<>&!@|`*_ \n", max_size=30),
    st.sampled_from(HOSTILE),
    # Huge strings are built by repetition: drawing thousands of characters one by one is slow.
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(100, 3000)),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.just(10**5000),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-(10**12), max_value=10**12),
    st.none(),
)
moments = st.one_of(
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(dt.timezone.utc)),
    st.just(pd.NaT),
    st.just(pd.Timestamp("2026-11-26 10:30")),
)
cells = st.one_of(numbers, texts, moments, st.booleans(), st.just(pd.NA))
column_names = st.one_of(texts, st.integers(), st.floats())


def column_series(values: list) -> pd.Series:
    # Warehouses hand back object columns when values do not share a type pandas can infer.
    try:
        return pd.Series(values)
    except (OverflowError, TypeError, ValueError):
        return pd.Series(values, dtype=object)


@st.composite
def frames(draw) -> pd.DataFrame:
    width = draw(st.integers(0, 40))
    height = draw(st.integers(0, 30))
    names = draw(st.lists(column_names, min_size=width, max_size=width))
    columns = []
    for _ in range(width):
        # A small pool per column keeps generation fast while still mixing types in a column.
        pool = draw(st.lists(cells, min_size=1, max_size=3))
        columns.append([pool[i % len(pool)] for i in range(height)])
    if not width:
        return pd.DataFrame(index=range(height))
    frame = pd.DataFrame(dict(enumerate(map(column_series, columns))), index=range(height))
    frame.columns = names
    return frame


points = st.builds(TrendPoint, when=moments, value=numbers)
analyses = st.builds(
    Analysis,
    analyst=texts,
    row_count=st.integers(0, 10**9),
    truncated=st.booleans(),
    summary=texts,
    insights=st.lists(texts, max_size=60),
    recommendations=st.lists(texts, max_size=20),
    metrics=st.lists(
        st.builds(
            ColumnMetrics,
            column=column_names,
            count=st.integers(0, 10**6),
            total=numbers,
            average=numbers,
            minimum=numbers,
            maximum=numbers,
        ),
        max_size=40,
    ),
    categories=st.lists(
        st.builds(
            CategoryTop,
            column=texts,
            measure=st.one_of(st.just("rows"), texts),
            distinct=st.integers(0, 10**6),
            values=st.lists(st.tuples(texts, numbers), max_size=8).map(tuple),
        ),
        max_size=6,
    ),
    trend=st.none() | st.builds(
        Trend,
        time_column=texts,
        measure=texts,
        first=points,
        last=points,
        peak=points,
        low=points,
        points=st.integers(0, 10**6),
    ),
    notes=st.lists(texts, max_size=12),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    frame=frames(),
    analysis=analyses,
    name=texts,
    description=texts,
    total_rows=st.integers(0, 10**9),
    truncated=st.booleans(),
    run_url=st.sampled_from([None, RUN_URL]),
)
def test_any_data_renders_a_valid_safe_message(
    frame, analysis, name, description, total_rows, truncated, run_url
):
    message = make_message(
        frame,
        name=name,
        description=description,
        total_rows=total_rows,
        truncated=truncated,
        analysis=analysis,
        run_url=run_url,
    )
    blocks, text = build_report_message(message)
    assert validate_message(blocks, text) == []
    assert text.strip()
    assert_safe(blocks, text)
    assert build_report_message(message) == (blocks, text)
