"""Every figure Gemini writes is checked against the run's data before it reaches Slack: a real
report job, google-genai against a local Gemini that invents numbers, slack_sdk against the
local Slack."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from report_pipelines.definitions import build_repository
from report_pipelines.report_files import load_report_text
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import FakeGemini, analysis_reply
from report_pipelines_tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-5555-figures-token"
KEY = "2026-11-25-09:00"


@pytest.fixture
def deployment(home, secret_key, monkeypatch, instance):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as slack, FakeGemini() as gemini:
        slack.add_channel("C0SALES", "sales")
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("GOOGLE_API_KEY", gemini.api_key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        store = ReportStore()
        store.add(load_report_text((REPORTS / "valid.yaml").read_text()))
        yield store, slack, gemini


def region_revenue(home) -> dict[str, object]:
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT region, SUM(revenue) FROM sales WHERE order_date = DATE '2026-11-25' GROUP BY region"
        ).fetchall()
    return dict(rows)


def run(store, instance):
    job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
    result = job.execute_in_process(instance=instance, partition_key=KEY)
    analysed = next(
        e for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "analyze_results"
    )
    return result, {key: value.value for key, value in analysed.event_specific_data.metadata.items()}


def posted_text(slack) -> str:
    (post,) = [post for post in slack.posts if not post["thread_ts"]]
    return json.dumps(post["blocks"], ensure_ascii=False) + post["text"]


def test_invented_figures_never_reach_slack(deployment, home, instance):
    store, slack, gemini = deployment
    revenue = region_revenue(home)
    north = revenue["North"]
    total = sum(revenue.values())
    rounded = f"{total / 1000:,.1f}k"  # the total as a writer would round it
    invented = dict(
        summary=f"Revenue came to about {rounded} across 4 regions. Online orders reached 987,654 units.",
        insights=[
            f"North brought in {north:,}.",
            "South revenue rose 333.3% against last week.",
            "East and West were level at 4,242.42 each.",
        ],
        recommendations=["Watch the North region."],
    )
    # The first answer invents figures; asked once more, the model keeps one invention.
    gemini.reply(analysis_reply(**invented), analysis_reply(**{**invented, "insights": invented["insights"][:2]}))
    result, metadata = run(store, instance)
    assert result.success

    assert len(gemini.requests) == 2
    retry = gemini.requests[1].text
    assert "987,654" in retry and "333.3%" in retry and "4,242.42" in retry

    text = posted_text(slack)
    for figure in ("987,654", "333.3%", "4,242.42"):
        assert figure not in text
    assert f"about {rounded} across 4 regions" in text
    assert f"North brought in {north:,}" in text
    assert metadata["figures_unsupported"] == 2
    assert metadata["figures_checked"] >= 5
    assert set(metadata["removed_sentences"]) == {
        "Online orders reached 987,654 units.", "South revenue rose 333.3% against last week.",
    }
    assert metadata["summary_replaced"] is False


def test_a_summary_made_only_of_inventions_gives_way_to_the_statistical_one(deployment, home, instance):
    store, slack, gemini = deployment
    wrong = analysis_reply(summary="Revenue hit 1,234,567.89 on the day.", insights=["North led."])
    gemini.reply(wrong, wrong)
    result, metadata = run(store, instance)
    assert result.success and metadata["summary_replaced"] is True
    text = posted_text(slack)
    assert "1,234,567.89" not in text
    assert "The AI summary stated figures that are not in the data; showing the statistical summary." in text
    assert "rows for the day" in text  # the statistical analyst's own summary
    assert "North led." in text


def test_gemini_is_given_the_changes_as_exact_figures_and_may_cite_them(deployment, home, instance):
    store, slack, gemini = deployment
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    store.update("regional_revenue", spec.model_copy(update={"compare": spec.compare.model_copy(update={"previous": True})}))
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        now, before = (conn.execute("SELECT SUM(revenue) FROM sales WHERE order_date = ?", [day]).fetchone()[0]
                       for day in ("2026-11-25", "2026-11-24"))
    change = now - before
    gemini.reply(analysis_reply(summary=f"Revenue moved by {change:+,} on the day before, {change / before * 100:+.1f}%."))
    result, metadata = run(store, instance)
    prompt = gemini.requests[0].text
    assert "Compared with the previous day (2026-11-24 09:00 → 2026-11-25 09:00 Europe/London)" in prompt
    assert f"revenue total: {now:,} vs {before:,}" in prompt
    # A figure taken from the comparison is supported: nothing removed, no second request.
    assert len(gemini.requests) == 1 and metadata["figures_unsupported"] == 0
    assert f"Revenue moved by {change:+,}" in posted_text(slack)
