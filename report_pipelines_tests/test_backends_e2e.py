"""Whole report runs with the Gemini analyst and the complete Slack delivery, through the real
SDKs against the local Gemini and Slack stand-ins."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from report_pipelines.analysts.prompts import estimate_tokens
from report_pipelines.definitions import build_repository
from report_pipelines.models import ReportSpec
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines.formatting import format_number
from report_pipelines.slack.blocks import validate_message
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import (
    FakeGemini,
    analysis_reply,
    error_reply,
    function_call_reply,
    text_reply,
)
from report_pipelines_tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-7777-e2e-token"
WEEK = "2026-11-16-09:00"  # Monday 09:00 UTC -> the week 16-23 November


@pytest.fixture
def big_warehouse(tmp_path, monkeypatch) -> str:
    """300,000 order lines in one week: a result far bigger than any prompt."""
    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            """
            CREATE TABLE orders AS
            SELECT DATE '2026-11-16' + CAST(i % 7 AS INTEGER) AS day,
                   ['North', 'South', 'East', 'West'][1 + i % 4] AS region,
                   'sku-' || CAST(i % 997 AS VARCHAR) AS sku,
                   CAST(1 + i % 13 AS INTEGER) AS qty,
                   CAST((i % 10007) / 100.0 AS DECIMAL(12, 2)) AS amount
            FROM range(300000) t(i)
            """
        )
    url = f"duckdb:///{path}"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    return str(path)


@pytest.fixture
def services(home, secret_key, monkeypatch):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as slack, FakeGemini() as gemini:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("GOOGLE_API_KEY", "fake-gemini-key")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        yield slack, gemini


def weekly(**changes) -> ReportSpec:
    base = load_report_text((REPORTS / "valid.yaml").read_text()).model_dump()
    base.update(
        name="Weekly Orders",
        query="SELECT day, region, sku, qty, amount FROM orders "
              "WHERE day >= @window_start_date AND day < @window_end_date",
        schedule={"frequency": "weekly", "day_of_week": "monday", "time": "09:00",
                  "timezone": "UTC", "start_date": "2026-11-01"},
        analysis={"mode": "quick", "audience": "general"},
    )
    base.update(changes)
    return ReportSpec.model_validate(base)


def run_week(instance, slug="weekly_orders", key=WEEK):
    store = ReportStore()
    job = build_repository(store.job_shaping_rows()).get_job(f"report_{slug}")
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)


def test_large_weekly_report_has_exact_metrics_and_ai_summary_within_budget(services, instance, big_warehouse):
    slack, gemini = services
    ReportStore().add(weekly(attachments={"chart": True, "csv": True}))
    gemini.reply(analysis_reply(summary="Orders held steady all week.", insights=["The North led."]))
    result = run_week(instance)
    assert result.success
    with duckdb.connect(big_warehouse, read_only=True) as conn:
        amount, qty, rows = conn.execute(
            "SELECT SUM(amount), SUM(qty), COUNT(*) FROM orders WHERE day >= DATE '2026-11-16' AND day < DATE '2026-11-23'"
        ).fetchone()
    assert len(slack.posts) == 1
    post = slack.posts[0]
    dumped = json.dumps(post["blocks"], ensure_ascii=False)
    assert validate_message(post["blocks"], post["text"]) == []
    assert f"Total: {format_number(amount)}" in dumped and f"Total: {format_number(qty)}" in dumped
    assert format_number(rows) in dumped
    assert "Orders held steady all week." in dumped and "by gemini" in dumped.lower()
    # The model saw a bounded prompt, whatever the 300,000 rows.
    request = gemini.requests[0]
    assert estimate_tokens(request.text + request.system_instruction) <= 8000
    # Chart and full CSV in the message's thread.
    files = {f["filename"]: f for f in slack.files}
    assert {name.rsplit(".", 1)[1] for name in files} == {"png", "csv"}
    assert all(f["thread_ts"] == post["ts"] for f in files.values())
    csv = next(f for name, f in files.items() if name.endswith(".csv"))
    assert csv["bytes"].count(b"\n") == rows + 1


def test_gemini_failure_still_sends_the_exact_report_with_a_note(services, instance, big_warehouse):
    slack, gemini = services
    ReportStore().add(weekly())
    gemini.reply(error_reply(500), error_reply(500), error_reply(503))
    result = run_week(instance)
    assert result.success
    dumped = json.dumps(slack.posts[0]["blocks"], ensure_ascii=False)
    assert "AI analysis unavailable" in dumped
    assert "Total:" in dumped


def test_prompt_only_report_runs_model_sql_and_shows_it(services, instance, big_warehouse):
    slack, gemini = services
    ReportStore().add(weekly(
        name="Ask Orders",
        query="Which region sold the most units this week?",
        analysis={"mode": "deep", "audience": "analyst"},
    ))
    sql = ("SELECT region, SUM(qty) AS units FROM orders WHERE day >= @window_start_date "
           "AND day < @window_end_date GROUP BY region ORDER BY units DESC")
    gemini.reply(
        function_call_reply(("run_sql", {"sql": "DELETE FROM orders"})),
        function_call_reply(("run_sql", {"sql": sql})),
        text_reply("The North."),
        analysis_reply(summary="North sold the most units."),
    )
    result = run_week(instance, slug="ask_orders")
    assert result.success, [e.message for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    main, *replies = slack.posts
    assert "North sold the most units." in json.dumps(main["blocks"])
    thread = " ".join(json.dumps(r["blocks"]) for r in replies if r.get("thread_ts") == main["ts"])
    assert "SUM(qty)" in thread and "DELETE" not in thread
    output = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "query_warehouse")
    assert "SUM(qty)" in output.event_specific_data.metadata["sql_runs"].value
    with duckdb.connect(big_warehouse, read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 300000


def test_prompt_only_report_without_key_fails_clearly(home, instance, monkeypatch, big_warehouse):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    ReportStore().add(weekly(name="Ask Orders", query="Which region sold the most?",
                             analysis={"mode": "deep", "audience": "analyst"}))
    result = run_week(instance, slug="ask_orders")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "set GOOGLE_API_KEY" in failure.step_failure_data.user_failure_data.description


def test_revoked_token_marks_the_workspace_unhealthy(services, instance, big_warehouse):
    slack, _ = services
    ReportStore().add(weekly())
    slack.revoke(TOKEN)
    result = run_week(instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "invalid or revoked" in failure.step_failure_data.user_failure_data.description
    workspace = WorkspaceStore().list()[0]
    assert not workspace.healthy and workspace.last_error == "token_revoked"
    # No op retries for a revoked token: it will not fix itself.
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []


def test_dm_by_email(services, instance, big_warehouse):
    slack, _ = services
    ReportStore().add(weekly(slack_config={"notification_type": "dm", "slack_user_id": "bob@example.com"}))
    assert run_week(instance).success
    assert slack.calls_to("users.lookupByEmail")[0]["email"] == "bob@example.com"
    assert slack.posts[0]["channel"].startswith("D")
