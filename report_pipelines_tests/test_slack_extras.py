"""Thread extras: chart and CSV attachments, long texts, posted with the real WebClient."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from report_pipelines.analysts.statistical import analyze
from report_pipelines.analysts.types import Analysis
from report_pipelines.models import ReportWindow
from report_pipelines.slack.chart import chart_png
from report_pipelines.slack.attachments import (
    BACKTICK_STAND_IN,
    csv_bytes,
    sql_thread_text,
    thread_messages_for_overflow,
)
from report_pipelines.slack.blocks import MAX_SECTION_CHARS
from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError, clear_channel_cache
from report_pipelines.models import Report
from report_pipelines.pipeline import ReportData, thread_extras
from report_pipelines.slack.threads import Attachment, post_thread_extras
from report_pipelines.warehouses.base import QueryResult
from report_pipelines_tests.fakes.slack_api import FakeSlack
# The Slack fixtures are shared with the delivery tests: same fake, same token, same client.
from report_pipelines_tests.test_slack_delivery import (  # noqa: F401 - pytest fixtures
    TEAM,
    TOKEN,
    _local_network,
    delivery,
    slack,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
START = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)
WINDOW = ReportWindow(
    partition_key="2026-11-16-00:00",
    start=START,
    end=START + dt.timedelta(days=7),
    timezone="Europe/London",
)
CODE_BLOCK = re.compile(r"```\n(.*)\n```\Z", re.DOTALL)




def _files(frame: pd.DataFrame, *, chart: bool, csv: bool, timezone: str = "UTC") -> list[Attachment]:
    """The chart and CSV as the pipeline attaches them to a weekly_sales window."""
    stem = "weekly_sales_2026-11-16-00-00"
    files = []
    if chart:
        png = chart_png(frame, _analysis(frame), title="Weekly Sales", timezone=timezone)
        files.append(Attachment("chart", f"{stem}.png", png, "Weekly Sales chart"))
    if csv:
        files.append(Attachment("csv", f"{stem}.csv", csv_bytes(frame), "Weekly Sales data"))
    return files


def _analysis(frame: pd.DataFrame) -> Analysis:
    return analyze(frame, window=WINDOW, period="week", audience="analyst")


def _sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": pd.date_range("2026-11-16", periods=6, freq="D"),
            "region": ["North", "South", "=HYPERLINK(\"http://x\")", "North", "-2+3", "@SUM(A1)"],
            "revenue": [120.5, 80.0, 42.25, 99.0, -15.0, 7.0],
            "units": [3, 2, 1, 4, -1, 1],
        }
    )


def _code(message: str) -> str:
    """The raw text inside a message's code block: escaping and backtick stand-ins undone."""
    match = CODE_BLOCK.search(message)
    assert match, message
    return html.unescape(match.group(1)).replace(BACKTICK_STAND_IN, "`")


def test_chart_and_csv_are_uploaded_into_the_thread(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    frame = _sales()
    main = delivery.post_message("C0SALES", None, "Weekly Sales")
    notes = thread_messages_for_overflow("More insights", ["First <!channel> & co", "Second"])

    records = post_thread_extras(
        delivery, "C0SALES", main.ts, report_name="Weekly Sales", texts=notes,
        files=_files(frame, chart=True, csv=True, timezone="Europe/London"),
    )

    replies = [post for post in slack.posts if post["thread_ts"] == main.ts]
    assert [reply["blocks"][0]["text"]["text"] for reply in replies] == notes
    assert replies[0]["text"] == "Weekly Sales: More insights"
    assert "<!channel>" not in replies[0]["blocks"][0]["text"]["text"]

    files = {item["filename"]: item for item in slack.files}
    assert set(files) == {"weekly_sales_2026-11-16-00-00.png", "weekly_sales_2026-11-16-00-00.csv"}
    assert all(item["channel_id"] == "C0SALES" for item in files.values())
    assert all(item["thread_ts"] == main.ts for item in files.values())
    png = files["weekly_sales_2026-11-16-00-00.png"]["bytes"]
    assert png.startswith(PNG_MAGIC)

    data = files["weekly_sales_2026-11-16-00-00.csv"]["bytes"]
    assert data == csv_bytes(frame)
    expected = frame.assign(
        region=["North", "South", "'=HYPERLINK(\"http://x\")", "North", "'-2+3", "'@SUM(A1)"]
    )
    read_back = pd.read_csv(io.BytesIO(data), parse_dates=["day"])
    pd.testing.assert_frame_equal(read_back, expected)

    assert [record["kind"] for record in records] == ["text", "chart", "csv"]
    assert records[0]["ts"] == replies[0]["ts"]
    assert records[1]["file_id"] == files["weekly_sales_2026-11-16-00-00.png"]["id"]
    assert records[1]["bytes"] == len(png)
    assert records[2]["bytes"] == len(data)


def test_a_failed_extra_names_itself_and_what_was_already_posted(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    frame = _sales()
    main = delivery.post_message("C0SALES", None, "Weekly Sales")
    slack.fail_next("files.getUploadURLExternal", error="missing_scope", status=200)

    with pytest.raises(SlackDeliveryError) as caught:
        post_thread_extras(
            delivery, "C0SALES", main.ts, report_name="Weekly Sales",
            texts=sql_thread_text(["SELECT 1"]), files=_files(frame, chart=False, csv=True),
        )

    message = str(caught.value)
    assert caught.value.code == "missing_scope"
    assert "csv weekly_sales_2026-11-16-00-00.csv" in message
    assert "main report message is already posted" in message
    assert "thread text 1 of 1" in message
    assert slack.files == []


def test_an_oversized_extra_text_is_refused_before_anything_is_posted(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    frame = _sales()
    with pytest.raises(ValueError, match="over the 3000 limit"):
        post_thread_extras(
            delivery, "C0SALES", "1700000000.000100", report_name="Weekly Sales",
            texts=["ok", "x" * (MAX_SECTION_CHARS + 1)], files=_files(frame, chart=True, csv=True),
        )
    assert slack.posts == [] and slack.files == []


def test_nothing_to_chart_gives_none_and_is_recorded_as_skipped(
    slack: FakeSlack, delivery: SlackDelivery
) -> None:
    frame = pd.DataFrame({"revenue": [1.5, 2.5, 3.0]})
    analysis = _analysis(frame)
    assert analysis.trend is None and not analysis.categories
    assert chart_png(frame, analysis, title="Totals", timezone="UTC") is None
    empty = frame.iloc[0:0]
    assert chart_png(empty, _analysis(empty), title="Totals", timezone="UTC") is None

    report = Report.model_validate({
        "id": 1, "name": "Totals", "query": "SELECT 1", "user_id": "alice",
        "schedule": {"frequency": "daily", "timezone": "UTC"}, "attachments": {"chart": True},
        "created_at": START, "updated_at": START,
    })  # fmt: skip
    result = QueryResult(frame=frame, truncated=False, row_cap=10, warehouse="test")
    extras = thread_extras(ReportData(report=report, window=WINDOW, result=result), analysis)
    assert not extras and extras.skipped == [{"kind": "chart", "skipped": "no trend or category to chart"}]
    assert post_thread_extras(
        delivery, "C0SALES", "1700000000.000100", report_name="Totals", texts=extras.texts, files=extras.files
    ) == []
    assert slack.files == []


def test_category_without_time_column_gives_a_bar_chart() -> None:
    products = [f"p{i:02d}" for i in range(40)]
    frame = pd.DataFrame({"product": products * 2, "sales": np.arange(80, dtype=float)})
    analysis = _analysis(frame)
    assert analysis.trend is None and analysis.categories[0].distinct == 40

    png = chart_png(frame, analysis, title="Products", timezone="UTC")

    assert png is not None and png.startswith(PNG_MAGIC)


def test_the_same_input_gives_the_same_png_bytes() -> None:
    frame = _sales()
    analysis = _analysis(frame)

    first = chart_png(frame, analysis, title="Weekly Sales", timezone="Europe/London")
    second = chart_png(
        frame.copy(), _analysis(frame), title="Weekly Sales", timezone="Europe/London"
    )

    assert first is not None and first.startswith(PNG_MAGIC)
    assert first == second


@pytest.mark.parametrize("title", ["Revenue in $", "Costs $x^2$ and $", r"$\frac{1}{0}$ \$"])
def test_dollar_signs_are_drawn_literally(title: str) -> None:
    frame = pd.DataFrame(
        {"label": ["$a$", r"$\undefined$", "$", "plain"], "amount": [4, 3, 2, 1]}
    )
    analysis = _analysis(frame)
    assert analysis.trend is None

    png = chart_png(frame, analysis, title=title, timezone="UTC")
    trend_png = chart_png(_sales(), _analysis(_sales()), title=title, timezone="UTC")

    assert png is not None and png.startswith(PNG_MAGIC)
    assert trend_png is not None and trend_png.startswith(PNG_MAGIC)


def test_a_million_rows_chart_from_aggregates() -> None:
    rows = 1_000_000
    rng = np.random.default_rng(7)
    minutes = rng.integers(0, 7 * 24 * 60, rows)
    frame = pd.DataFrame(
        {
            "sold_at": pd.Timestamp("2026-11-16", tz="UTC") + pd.to_timedelta(minutes, unit="m"),
            "region": rng.choice(["North", "South", "East", "West"], rows),
            "revenue": rng.random(rows) * 100,
        }
    )
    analysis = _analysis(frame)
    assert analysis.trend is not None

    png = chart_png(frame, analysis, title="Big week", timezone="America/New_York")

    assert png is not None and png.startswith(PNG_MAGIC)


def test_csv_guards_formulas_in_text_but_not_numbers() -> None:
    frame = pd.DataFrame(
        {
            "=cmd": ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "safe", None],
            "amount": [-1, 2, -3, 4, 5, 6, 7, 8],
            "mixed": ["-5", -5, 1.5, "ok", "x", "=y", 2, "z"],
        }
    )
    frame["kind"] = pd.Categorical(["=a", "b", "=a", "b", "b", "b", "b", "b"])

    lines = csv_bytes(frame).decode("utf-8")

    read_back = pd.read_csv(io.StringIO(lines), keep_default_na=False)
    assert list(read_back.columns) == ["'=cmd", "amount", "mixed", "kind"]
    guarded = ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "safe", ""]
    assert read_back["'=cmd"].tolist() == guarded
    assert read_back["amount"].tolist() == [-1, 2, -3, 4, 5, 6, 7, 8]
    assert read_back["mixed"].tolist() == ["'-5", "-5", "1.5", "ok", "x", "'=y", "2", "z"]
    assert read_back["kind"].tolist() == ["'=a", "b", "'=a", "b", "b", "b", "b", "b"]
    assert frame.columns[0] == "=cmd" and frame.iloc[0, 0] == "=1+1"


def test_long_sql_is_split_into_parts_without_losing_anything() -> None:
    lines = [
        f"SELECT region, SUM(amount) AS total_{n} FROM `proj.sales.orders` "
        f"WHERE note <> '<&>' GROUP BY region -- {n}"
        for n in range(200)
    ]
    sql = "\n".join(lines)
    sql = sql[:10_000]
    assert len(sql) == 10_000

    messages = sql_thread_text([sql])

    assert len(messages) >= 4
    assert all(len(message) <= MAX_SECTION_CHARS for message in messages)
    for number, message in enumerate(messages, start=1):
        assert message.startswith(f"*SQL run* (part {number}/{len(messages)})\n```\n")
        assert "`" not in CODE_BLOCK.search(message).group(1)
    assert "".join(_code(message) for message in messages) == sql


def test_sql_is_escaped_so_data_cannot_ping() -> None:
    sql = "SELECT '<!channel>' AS x, 1 < 2 AND 3 > 2 & TRUE"

    messages = sql_thread_text([sql, "  ", "SELECT 2"])

    assert len(messages) == 2
    assert messages[0].startswith("*SQL run 1 of 2*\n")
    assert "<!channel>" not in messages[0]
    assert "&lt;!channel&gt;" in messages[0]
    assert "1 &lt; 2 AND 3 &gt; 2 &amp; TRUE" in messages[0]
    assert _code(messages[0]) == sql
    assert _code(messages[1]) == "SELECT 2"


def test_a_single_line_of_sql_longer_than_a_message_is_cut_whole() -> None:
    sql = "SELECT " + "&" * 5000

    messages = sql_thread_text([sql])

    assert all(len(message) <= MAX_SECTION_CHARS for message in messages)
    assert "".join(_code(message) for message in messages) == sql


def test_overflow_messages_keep_every_item() -> None:
    items = [f"Insight {n}: <b>{'&' * (n % 7)}</b> " + "detail " * (n * 3) for n in range(60)]
    items.append("Z" * 7000)
    items.append("last one")

    messages = thread_messages_for_overflow("More insights", items)

    assert len(messages) > 1
    assert all(len(message) <= MAX_SECTION_CHARS for message in messages)
    assert all(
        message.startswith(f"*More insights* ({n}/{len(messages)})\n")
        for n, message in enumerate(messages, start=1)
    )
    assert all("<b>" not in message for message in messages)
    lines = [line for message in messages for line in message.split("\n")[1:]]
    rebuilt: list[str] = []
    # None of the items contains "…", so every one seen marks a cut.
    for line in lines:
        assert line.startswith("• ")
        body = html.unescape(line.removeprefix("• "))
        piece = body.removeprefix("…").removesuffix("…")
        if body.startswith("…"):
            rebuilt[-1] += piece
        else:
            rebuilt.append(piece)
    assert rebuilt == items


def test_overflow_fits_one_message_when_it_can() -> None:
    assert thread_messages_for_overflow("Notes", ["a", " ", "b"]) == ["*Notes*\n• a\n• b"]
    assert thread_messages_for_overflow("Notes", []) == []
