"""Whole report jobs on a real Dagster instance, delivering to the local Slack stand-in."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from report_pipelines.definitions import build_repository
from report_pipelines.report_files import load_report_text
from report_pipelines.names import TAG_OWNER, TAG_REPORT_ID, TAG_SLACK_CHANNEL, TAG_SLACK_TS
from report_pipelines.formatting import format_number
from report_pipelines.slack.blocks import validate_message
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines.store import WorkspaceStore

TOKEN = "xoxb-1111-secret-token-value"
KEY = "2026-11-25-09:00"  # Europe/London daily 09:00: the window [25 Nov 09:00, 26 Nov 09:00)


@pytest.fixture
def slack(home):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        fake.add_channel("C0PRIVATE", "finance", is_private=True, is_member=False)
        yield fake


@pytest.fixture
def store(home):
    from report_pipelines.store import ReportStore, WorkspaceStore

    store = ReportStore()
    store.add(load_report_text((REPORTS / "valid.yaml").read_text()))
    return store


def run(store, key=KEY, slug="regional_revenue", instance=None):
    defs = build_repository(store.job_shaping_rows())
    job = defs.get_job(f"report_{slug}")
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)


def all_event_text(instance, run_id) -> str:
    return "\n".join(
        json.dumps(record.to_dict() if hasattr(record, "to_dict") else str(record), default=str)
        for record in instance.all_logs(run_id)
    )


def expected_totals(home, start="2026-11-25", end="2026-11-26"):
    with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(
            "SELECT SUM(units), SUM(revenue), COUNT(DISTINCT region) FROM sales "
            f"WHERE order_date >= DATE '{start}' AND order_date < DATE '{end}'"
        ).fetchone()


def test_preview_without_workspace(home, instance, store):
    result = run(store, instance=instance)
    assert result.success
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[TAG_OWNER] == "alice"
    assert tags[TAG_REPORT_ID] == str(store.get("regional_revenue").id)
    assert tags["report_pipelines/delivery"] == "preview"
    metadata = result.output_for_node  # noqa: B018 - reading outputs proves in-memory IO works
    preview = home / "previews" / "regional_revenue" / "2026-11-25-09-00.json"
    payload = json.loads(preview.read_text())
    assert validate_message(payload["blocks"], payload["text"]) == []
    units, revenue, _ = expected_totals(home)
    dumped = json.dumps(payload["blocks"], ensure_ascii=False)
    assert f"Total: {format_number(revenue)}" in dumped
    assert f"Total: {format_number(units)}" in dumped
    step_events = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT
        and e.step_key == "post_to_slack"
    ]
    md = step_events[0].event_specific_data.metadata
    assert "📊 Regional Revenue" in md["preview"].value
    # Step results on disk are encrypted: no region name or column in plaintext.
    for path in (home / "storage" / result.run_id).rglob("*.bin"):
        assert b"North" not in path.read_bytes() and b"revenue" not in path.read_bytes()


def test_posts_once_to_resolved_channel_with_exact_figures(home, instance, store, slack, secret_key, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    WorkspaceStore().add("T0001", "Acme", TOKEN)
    result = run(store, instance=instance)
    assert result.success, result
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    post = slack.posts[0]
    assert post["channel"] == "C0SALES"
    assert validate_message(post["blocks"], post["text"]) == []
    units, revenue, regions = expected_totals(home)
    dumped = json.dumps(post["blocks"], ensure_ascii=False)
    assert f"Total: {format_number(revenue)}" in dumped
    assert f"Total: {format_number(units)}" in dumped
    assert f"*Rows*\\n{regions}" in dumped
    assert "2026-11-25 09:00 → 2026-11-26 09:00 Europe/London" in dumped
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[TAG_SLACK_CHANNEL] == "C0SALES" and tags[TAG_SLACK_TS] == post["ts"]
    assert TOKEN not in all_event_text(instance, result.run_id)


def test_dm_to_a_user_id(home, instance, store, slack, secret_key, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    WorkspaceStore().add("T0001", "Acme", TOKEN)
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    spec.slack_config.notification_type = "dm"
    spec.slack_config.slack_user_id = "U0ALICE"
    store.update("regional_revenue", spec)
    assert run(store, instance=instance).success
    assert slack.posts[0]["channel"].startswith("D")
    assert slack.calls_to("conversations.open")[0]["users"] == "U0ALICE"


def failure_text(result) -> str:
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures, "the run should have failed"
    data = failures[0].step_failure_data
    return (data.user_failure_data.description if data.user_failure_data else "") + data.error.message


def test_private_channel_without_the_bot_fails_with_what_to_do(home, instance, store, slack, secret_key, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    WorkspaceStore().add("T0001", "Acme", TOKEN)
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    spec.slack_config.slack_channel = "C0PRIVATE"
    store.update("regional_revenue", spec)
    result = run(store, instance=instance)
    assert not result.success
    assert "invite the bot" in failure_text(result)
    assert slack.posts == []


def test_bad_sql_fails_loudly_and_posts_nothing(home, instance, store, slack, secret_key, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    WorkspaceStore().add("T0001", "Acme", TOKEN)
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    spec.query = "SELECT * FROM no_such_table WHERE day >= @window_start_date"
    store.update("regional_revenue", spec)
    result = run(store, instance=instance)
    assert not result.success
    assert "no_such_table" in failure_text(result)
    assert slack.posts == []


def test_sql_edits_apply_without_rebuilding_definitions(home, instance, store):
    defs = build_repository(store.job_shaping_rows())
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    spec.query = "SELECT 'edited' AS marker, 7 AS value"
    store.update("regional_revenue", spec)
    result = defs.get_job("report_regional_revenue").execute_in_process(
        instance=instance, partition_key=KEY
    )
    assert result.success
    payload = json.loads((home / "previews" / "regional_revenue" / "2026-11-25-09-00.json").read_text())
    assert "edited" in json.dumps(payload["blocks"])


def test_launch_without_partition_is_refused(home, instance, store):
    defs = build_repository(store.job_shaping_rows())
    result = defs.get_job("report_regional_revenue").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    assert "needs a window" in failure_text(result)
