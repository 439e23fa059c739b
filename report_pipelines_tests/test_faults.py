"""Fault injection: Slack, Gemini, the warehouse, the report store or the run worker failing.

Every case ends in exactly one message in the channel, or in a failure whose message names the
cause (and, for a failed report run, a notice to the report's owner). Never a duplicate, never a
silent skip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

from report_pipelines.analysts.gemini import GeminiAnalystResource
from report_pipelines.cli import main
from report_pipelines.definitions import shared_resources
from report_pipelines.jobs import ReportShape, build_report_job
from report_pipelines.models import ReportSpec
from report_pipelines.report_files import load_report_text
from report_pipelines.store import Database, DeliveryKey, DeliveryLedger, ReportStore, WorkspaceStore
from report_pipelines.resources import SlackResource
from report_pipelines.sensors import build_report_table_sensor, report_failure_notifier
from report_pipelines.formatting import escape
from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError, clear_channel_cache
from report_pipelines.warehouses.base import WarehouseError
from report_pipelines.warehouses.bigquery import BigQueryWarehouse
from report_pipelines.warehouses.bigquery_errors import GIB, check_bytes_cap
from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import (
    FakeGemini,
    error_reply,
    slow_reply,
    text_reply,
)
from report_pipelines_tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.faults

TOKEN = "xoxb-5150-faults-token"
KEY = "2026-11-25-09:00"
SLUG = "regional_revenue"
OWNER = "alice@example.com"  # a Slack email: failure notices go to Alice by DM
DESTINATION = "T0001/channel/C0SALES"
ROOT = str(REPORTS.parents[1])
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
CLOSED_PORT_STORE = "postgresql+psycopg2://reports:s3cret-pw@127.0.0.1:1/reports"
VALID_QUERY = load_report_text((REPORTS / "valid.yaml").read_text()).query


def spec(**changes) -> ReportSpec:
    report = load_report_text((REPORTS / "valid.yaml").read_text())
    return ReportSpec.model_validate({**report.model_dump(), "user_id": OWNER, **changes})


@pytest.fixture
def store(home):
    store = ReportStore()
    store.add(spec())
    return store


@pytest.fixture
def slack(store, secret_key, monkeypatch):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        yield fake


@pytest.fixture
def gemini(slack, monkeypatch):
    with FakeGemini() as fake:
        monkeypatch.setenv("GOOGLE_API_KEY", fake.api_key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        yield fake


def fresh_code_location() -> None:
    """Forget definitions loaded earlier in this process, so the next load reads this test's
    store and environment as a fresh process does: Dagster caches the last job definition and
    keeps the state fetched by the last load (another test's report rows) in a global context."""
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    DefinitionsLoadContext._instance = None


@pytest.fixture(autouse=True)
def _forget_loaded_definitions():
    # Definitions loaded under this test's environment (a BigQuery URL, a Gemini key) must not
    # serve a later test.
    yield
    fresh_code_location()


def code_location_job():
    """The report's job exactly as the code location serves it (definitions from the store)."""
    fresh_code_location()
    repo = ReconstructableRepository.for_module(
        "report_pipelines.definitions", "defs", working_directory=ROOT
    )
    return repo.get_reconstructable_job(f"report_{SLUG}")


def launch(instance, *, force: bool = False, **kwargs):
    tags = {"dagster/partition": KEY}
    if force:
        tags["report_pipelines/force"] = "true"
    return dg.execute_job(code_location_job(), instance=instance, tags=tags, **kwargs)


def launch_with(instance, **resources):
    """The report's job with shared resources replaced: timeouts no environment variable sets."""
    row = next(r for r in ReportStore().job_shaping_rows() if r["slug"] == SLUG)
    job = build_report_job(ReportShape.from_row(row), {**shared_resources(), **resources})
    return job.execute_in_process(instance=instance, partition_key=KEY, raise_on_error=False)


def failure_text(instance, run_id: str) -> str:
    lines = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = record.dagster_event.step_failure_data
        user = data.user_failure_data
        lines.append(user.description if user and user.description else data.error.message)
    return "\n".join(lines)


def op_retries(instance, run_id: str) -> int:
    return len(list(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)))


def step_output_metadata(instance, run_id: str, step: str) -> dict:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        event = record.dagster_event
        if event.step_key == step:
            return {k: getattr(v, "value", v) for k, v in event.step_output_data.metadata.items()}
    raise AssertionError(f"no output of {step} in run {run_id}")


def delivery_tag(instance, run_id: str) -> str | None:
    return instance.get_run_by_id(run_id).tags.get("report_pipelines/delivery")


def report_posts(slack) -> list[dict]:
    """Report messages in any channel (failure notices and thread replies excluded)."""
    return [p for p in slack.posts if p["text"].startswith("📊") and not p.get("thread_ts")]


def post_attempts(slack, channel: str = "C0SALES") -> list[dict]:
    return [c for c in slack.calls_to("chat.postMessage") if c.get("channel") == channel]


def notices(slack) -> list[dict]:
    return [p for p in slack.posts if "failed for window" in p["text"]]


def notify_owner(instance, run_id: str) -> None:
    """Evaluate the failure sensor on the run, as the daemon does after a run fails."""
    run = instance.get_run_by_id(run_id)
    record = next(iter(instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)))
    context = dg.build_run_status_sensor_context(
        sensor_name="report_failure_notifier",
        dagster_event=record.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    report_failure_notifier(context)


def assert_failed_and_owner_told(instance, slack, result, *phrases: str) -> str:
    """The run failed naming its cause, and the owner got one DM saying which window and why."""
    assert not result.success
    text = failure_text(instance, result.run_id)
    for phrase in phrases:
        assert phrase in text, text
    before = len(notices(slack))
    notify_owner(instance, result.run_id)
    new = notices(slack)[before:]
    assert len(new) == 1, new
    notice = new[0]
    assert notice["channel"].startswith("D")  # Alice's DM, found by her email
    body = json.dumps(notice["blocks"], ensure_ascii=False)
    assert SLUG in body and KEY in body and f"/runs/{result.run_id}" in body
    for phrase in phrases:
        assert escape(phrase)[:60] in body, body
    return text


def chain_text(err: BaseException) -> str:
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__ or err.__context__
    return "\n".join(parts)


# --- Slack -------------------------------------------------------------------------------------


def test_rate_limited_post_honours_retry_after_and_posts_once(slack, instance, monkeypatch):
    moments = []
    real = slack._dispatch

    def timed(method, params, token):
        if method == "chat.postMessage" and params.get("channel") == "C0SALES":
            moments.append(time.monotonic())
        return real(method, params, token)

    monkeypatch.setattr(slack, "_dispatch", timed)
    slack.rate_limit("chat.postMessage", times=2, retry_after=1)
    result = launch(instance)
    assert result.success
    assert len(moments) == 3
    # Each retry waited out Slack's Retry-After (1 s) instead of hammering the API.
    assert all(later - earlier >= 0.95 for earlier, later in zip(moments, moments[1:]))
    assert len(report_posts(slack)) == 1
    assert delivery_tag(instance, result.run_id) == "posted"
    assert op_retries(instance, result.run_id) == 0


def assert_window_in_doubt_until_forced(instance, slack, first) -> None:
    """After an unanswered post: the ledger keeps the claim, a relaunch fails loudly instead of
    posting again, and a forced run (the owner checked the channel) posts the one message."""
    store = ReportStore()
    report = store.get(SLUG)
    entry = DeliveryLedger().get(DeliveryKey(report.id, KEY, DESTINATION))
    assert entry is not None and entry.status == "sending" and entry.run_id == first.run_id
    second = launch(instance)
    assert_failed_and_owner_told(instance, slack, second, "never confirmed", "--force")
    assert len(post_attempts(slack)) == 1
    forced = launch(instance, force=True)
    assert forced.success, failure_text(instance, forced.run_id)
    assert len(report_posts(slack)) == 1
    assert DeliveryLedger().get(DeliveryKey(report.id, KEY, DESTINATION)).status == "posted"


def test_slack_5xx_on_post_is_not_retried_and_says_it_may_have_posted(slack, instance):
    status = 503
    slack.fail_next("chat.postMessage", error="internal_error", status=status)
    first = launch(instance)
    assert_failed_and_owner_told(
        instance, slack, first, f"HTTP {status}", "may or may not have been posted"
    )
    assert len(post_attempts(slack)) == 1 and op_retries(instance, first.run_id) == 0
    assert report_posts(slack) == []


def test_slack_5xx_with_a_json_error_body_leaves_the_window_in_doubt(slack, instance):
    slack.fail_next("chat.postMessage", error="internal_error", status=500)
    first = launch(instance)
    assert not first.success
    assert_window_in_doubt_until_forced(instance, slack, first)


def test_slack_5xx_from_a_proxy_page_leaves_the_window_in_doubt_and_force_recovers(slack, instance):
    # A gateway's HTML page arrives as a sentence in "error", not as a Slack error code.
    slack.fail_next("chat.postMessage", error="<html>502 Bad Gateway</html>", status=502)
    first = launch(instance)
    assert_failed_and_owner_told(
        instance, slack, first, "HTTP 502 (http_error)", "may or may not have been posted"
    )
    assert len(post_attempts(slack)) == 1 and op_retries(instance, first.run_id) == 0
    assert_window_in_doubt_until_forced(instance, slack, first)


def test_dropped_connection_after_slack_posted_never_posts_twice(slack, instance):
    # Slack carries out the post, then the connection closes without an answer.
    slack.drop_next("chat.postMessage")
    first = launch(instance)
    assert_failed_and_owner_told(
        instance, slack, first, "failed without an answer", "may or may not have been posted"
    )
    assert len(report_posts(slack)) == 1 and len(post_attempts(slack)) == 1
    assert op_retries(instance, first.run_id) == 0
    again = launch(instance)
    assert_failed_and_owner_told(instance, slack, again, "never confirmed")
    assert len(report_posts(slack)) == 1 and len(post_attempts(slack)) == 1


def test_slack_read_timeout_counts_as_unconfirmed(slack, instance, monkeypatch):
    real = slack._dispatch

    def slow(method, params, token):
        reply = real(method, params, token)  # Slack has posted; its answer comes too late
        if method == "chat.postMessage" and params.get("channel") == "C0SALES":
            time.sleep(2.5)
        return reply

    monkeypatch.setattr(slack, "_dispatch", slow)
    started = time.monotonic()
    result = launch_with(instance, slack=SlackResource(timeout_seconds=1))
    assert_failed_and_owner_told(
        instance, slack, result, "failed without an answer", "may or may not have been posted"
    )
    assert time.monotonic() - started < 20
    assert len(post_attempts(slack)) == 1 and len(report_posts(slack)) == 1
    assert op_retries(instance, result.run_id) == 0
    store = ReportStore()
    entry = DeliveryLedger().get(DeliveryKey(store.get(SLUG).id, KEY, DESTINATION))
    assert entry.status == "sending"  # in doubt: the next launch fails instead of posting again


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked"])
def test_rejected_token_fails_without_retry_and_marks_the_workspace_unhealthy(
    slack, store, instance, code
):
    if code == "token_revoked":
        slack.revoke(TOKEN)
    else:
        WorkspaceStore().add("T0001", "Acme", "xoxb-0000-not-a-token-slack-knows")
    result = launch(instance)
    assert not result.success
    text = failure_text(instance, result.run_id)
    assert f"invalid or revoked ({code})" in text and "workspaces add" in text
    assert op_retries(instance, result.run_id) == 0 and slack.posts == []
    workspace = WorkspaceStore().list()[0]
    assert not workspace.healthy and workspace.last_error == code
    health = CliRunner().invoke(main, ["health", "--json"])
    assert health.exit_code == 1
    checks = {c["component"]: c for c in json.loads(health.stdout)["checks"]}
    assert checks["slack:T0001"]["ok"] is False and code in checks["slack:T0001"]["detail"]


def test_owner_is_told_even_when_the_workspace_token_is_revoked(slack, instance, home):
    slack.revoke(TOKEN)
    result = launch(instance)
    assert not result.success
    notify_owner(instance, result.run_id)
    written = list((home / "previews" / "_notices" / SLUG).glob("*.json"))
    assert len(written) == 1 and "token_revoked" in written[0].read_text()


def test_workspaces_list_shows_a_workspace_slack_rejected(slack, instance):
    slack.revoke(TOKEN)
    assert not launch(instance).success
    listed = CliRunner().invoke(main, ["workspaces", "list", "--json"])
    assert listed.exit_code == 0
    assert "token_revoked" in listed.output


def _private_non_member(fake):
    fake.add_channel("C0PRIV99", "private-sales", is_private=True, is_member=False)


CHANNEL_FAULTS = [
    # (slack_channel, break the channel, fix it, what the failure says)
    ("#nowhere", lambda f: None, lambda f: f.add_channel("C0NOWHERE", "nowhere"),
     "channel #nowhere not found in workspace T0001; check slack_channel"),
    ("C0GONE99", lambda f: None, lambda f: f.add_channel("C0GONE99", "gone"),
     "channel C0GONE99 not found in workspace T0001; check slack_channel"),
    ("C0PRIV99", _private_non_member,
     lambda f: f.add_channel("C0PRIV99", "private-sales", is_private=True, is_member=True),
     "invite the bot to C0PRIV99"),
    ("C0OLD999", lambda f: f.add_channel("C0OLD999", "old-sales", is_archived=True),
     lambda f: f.add_channel("C0OLD999", "old-sales"),
     "channel C0OLD999 is archived; unarchive it or point slack_channel elsewhere"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "breaks", "fixes", "phrase"),
    CHANNEL_FAULTS,
    ids=["channel_not_found-by-name", "channel_not_found-by-id", "not_in_channel", "is_archived"],
)
def test_channel_errors_name_the_fix_and_a_fixed_channel_gets_one_message(
    slack, store, instance, channel, breaks, fixes, phrase
):
    breaks(slack)
    store.update(SLUG, spec(slack_config={"notification_type": "channel", "slack_channel": channel}))
    failed = launch(instance)
    assert_failed_and_owner_told(instance, slack, failed, phrase)
    assert report_posts(slack) == [] and op_retries(instance, failed.run_id) == 0

    fixes(slack)
    fixed = launch(instance)  # the claim was released: the fixed channel gets its message
    assert fixed.success, failure_text(instance, fixed.run_id)
    again = launch(instance)
    assert again.success and delivery_tag(instance, again.run_id) == "already_delivered"
    posts = report_posts(slack)
    assert len(posts) == 1 and posts[0]["channel"] == (
        "C0NOWHERE" if channel == "#nowhere" else channel
    )


def test_invalid_blocks_failure_carries_slacks_pointer(slack, instance, monkeypatch):
    # A formatter bug that our own validation missed: Slack is the last line of defence.
    from report_pipelines import pipeline

    real = pipeline.build_report_message
    bad_index = {}

    def broken(message):
        blocks, text = real(message)
        bad_index["at"] = len(blocks)
        return [*blocks, {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], text

    monkeypatch.setattr(pipeline, "build_report_message", broken)
    monkeypatch.setattr(pipeline, "validate_message", lambda blocks, text: [])
    result = launch(instance)
    assert_failed_and_owner_told(
        instance, slack, result,
        "Slack rejected the message blocks",
        f"[json-pointer:/blocks/{bad_index['at']}/text/text]",
    )
    assert report_posts(slack) == [] and op_retries(instance, result.run_id) == 0
    # Nothing can have been posted: the claim is released, not left in doubt.
    store = ReportStore()
    assert DeliveryLedger().get(DeliveryKey(store.get(SLUG).id, KEY, DESTINATION)) is None


def test_invalid_blocks_error_keeps_every_pointer_slack_sends(slack):
    # FakeSlack.fail_next cannot attach an `errors` payload, so the pointer comes from the fake's
    # real block validation here.
    client = SlackDelivery(token=TOKEN, team_id="T0001", base_url=slack.url)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
    ]
    with pytest.raises(SlackDeliveryError) as raised:
        client.post_message("C0SALES", blocks, "fallback")
    err = raised.value
    assert err.code == "invalid_blocks" and not err.may_have_posted
    assert "[json-pointer:/blocks/0/text/text]" in str(err)
    assert "[json-pointer:/blocks/2/fields]" in str(err)
    assert slack.posts == []


# --- Gemini ------------------------------------------------------------------------------------


GEMINI_FAULTS = [
    ([error_reply(429)] * 3, "Gemini answered 429 RESOURCE_EXHAUSTED after 3 attempts", 3),
    ([error_reply(500), error_reply(503), error_reply(503)],
     "Gemini answered 503 UNAVAILABLE after 3 attempts", 3),
    ([text_reply('{"summary": "Revenue rose in the No')],
     "Gemini's answer was not valid analysis JSON", 1),
    ([text_reply('{"summary": "Rev', finish_reason="MAX_TOKENS")],
     "Gemini's answer was not valid analysis JSON, finish reason MAX_TOKENS", 1),
]  # fmt: skip


def assert_statistical_report_with_note(instance, slack, result, reason: str) -> None:
    assert result.success, failure_text(instance, result.run_id)
    posts = report_posts(slack)
    assert len(posts) == 1
    dumped = json.dumps(posts[0]["blocks"], ensure_ascii=False)
    note = f"AI analysis unavailable ({escape(reason)}); showing the statistical analysis."
    assert note in dumped
    assert "*Key Metrics*" in dumped and "Total: " in dumped  # the exact figures still went out
    assert step_output_metadata(instance, result.run_id, "analyze_results")["gemini_status"] == "fallback"


@pytest.mark.parametrize(
    ("replies", "reason", "attempts"), GEMINI_FAULTS,
    ids=["429", "5xx", "invalid-json", "truncated-json"],
)
def test_gemini_failure_still_delivers_once_with_a_visible_note(
    gemini, slack, instance, replies, reason, attempts
):
    gemini.reply(*replies)
    result = launch(instance)
    assert_statistical_report_with_note(instance, slack, result, reason)
    assert len(gemini.requests) == attempts
    assert gemini.pending == 0


def test_gemini_timeout_still_delivers_once_with_a_visible_note(gemini, slack, instance):
    gemini.reply(slow_reply(10), slow_reply(10))
    analyst = GeminiAnalystResource(
        api_key=dg.EnvVar("GOOGLE_API_KEY"),
        timeout_seconds=0.5,
        max_attempts=2,
        retry_initial_delay_seconds=0,
    )
    started = time.monotonic()
    result = launch_with(instance, analyst=analyst)
    assert time.monotonic() - started < 10
    assert_statistical_report_with_note(
        instance, slack, result, "Gemini did not answer within 0.5 s (2 attempts)"
    )
    assert len(gemini.requests) == 2


# --- Warehouse ---------------------------------------------------------------------------------


def test_sql_syntax_error_fails_naming_it_and_tells_the_owner(slack, store, instance):
    store.update(SLUG, spec(query="SELECT region, SUM(revenue) AS revenue FROM sales WHERE GROUP BY region"))
    result = launch(instance)
    text = assert_failed_and_owner_told(
        instance, slack, result, "Regional Revenue: the report SQL was refused: the SQL could not be parsed"
    )
    assert "syntax error" in text and '"GROUP"' in text
    assert post_attempts(slack) == []


@pytest.fixture
def postgres():
    engine = sa.create_engine(POSTGRES)
    try:
        engine.connect().close()
    except sa.exc.OperationalError as err:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({err.orig})")
    finally:
        engine.dispose()
    return POSTGRES


def test_warehouse_timeout_stops_the_query_and_names_the_timeout(slack, store, instance, postgres):
    # Counting a billion generated rows takes PostgreSQL minutes (pg_sleep is off the allow-list).
    store.update(SLUG, spec(query="SELECT count(*) AS n FROM generate_series(1, 1000000000) AS g WHERE @window_start_date IS NOT NULL"))
    started = time.monotonic()
    result = launch_with(
        instance, warehouse=SQLAlchemyWarehouse(url=postgres, query_timeout_seconds=1)
    )
    # The server cancelled the statement after 1 s; nobody waited for the count.
    assert time.monotonic() - started < 5
    assert_failed_and_owner_told(
        instance, slack, result, "canceling statement due to statement timeout"
    )
    assert post_attempts(slack) == []


@pytest.mark.parametrize(
    ("estimated", "cap", "refused"),
    [
        (10 * GIB, 10 * GIB, False),  # equal to the cap passes, as BigQuery's own limit does
        (10 * GIB + 1, 10 * GIB, True),
        (0, 1, False),
        (10**18, 0, False),  # 0 disables the cap
    ],
)
def test_bytes_cap_boundaries(estimated, cap, refused):
    if not refused:
        check_bytes_cap(estimated, cap)
        return
    with pytest.raises(WarehouseError) as raised:
        check_bytes_cap(estimated, cap)
    message = str(raised.value)
    assert f"{estimated:,} bytes" in message and f"{cap:,} bytes" in message
    assert "raise maximum_bytes_billed" in message


@pytest.fixture
def bigquery_dry_runs(monkeypatch):
    """BigQuery's query calls, answered offline: dry runs estimate 1,000,001 bytes."""
    from google.cloud import bigquery

    configs = []

    def query(self, sql, job_config=None, **kwargs):
        configs.append(job_config)
        if not job_config.dry_run:
            raise AssertionError("the billed query started although the estimate was over the cap")
        return SimpleNamespace(total_bytes_processed=1_000_001, statement_type="SELECT")

    monkeypatch.setattr(bigquery.Client, "query", query)
    return configs


def test_bigquery_estimate_over_the_cap_stops_before_billing(bigquery_dry_runs):
    from report_pipelines.models import ReportWindow
    import datetime as dt

    warehouse = BigQueryWarehouse(
        project="test-project", api_endpoint="http://127.0.0.1:9", maximum_bytes_billed=1_000_000
    )
    window = ReportWindow(
        partition_key=KEY,
        start=dt.datetime(2026, 11, 25, 9, tzinfo=dt.timezone.utc),
        end=dt.datetime(2026, 11, 26, 9, tzinfo=dt.timezone.utc),
        timezone="UTC",
    )
    with pytest.raises(WarehouseError, match=r"1,000,001 bytes\) > cap .*1,000,000 bytes"):
        warehouse.run_query("SELECT 1 AS n WHERE @window_start_date IS NOT NULL", window)
    assert [config.dry_run for config in bigquery_dry_runs] == [True]


def test_bigquery_cap_fails_the_report_run_and_tells_the_owner(
    slack, instance, monkeypatch, bigquery_dry_runs
):
    monkeypatch.setenv("WAREHOUSE_URL", "bigquery://test-project/sales?maximum_bytes_billed=1000000")
    monkeypatch.setenv("BIGQUERY_API_ENDPOINT", "http://127.0.0.1:9")
    result = launch(instance)
    assert_failed_and_owner_told(
        instance, slack, result, "would scan an estimated", "1,000,001 bytes", "maximum_bytes_billed"
    )
    assert [config.dry_run for config in bigquery_dry_runs] == [True]
    assert post_attempts(slack) == []


EMPTY_QUERY = VALID_QUERY.replace("GROUP BY", "AND region = 'Atlantis' GROUP BY")


def test_empty_window_is_delivered_once_saying_no_rows(slack, store, instance):
    store.update(SLUG, spec(query=EMPTY_QUERY))
    first = launch(instance)
    assert first.success, failure_text(instance, first.run_id)
    second = launch(instance)
    assert second.success and delivery_tag(instance, second.run_id) == "already_delivered"
    posts = report_posts(slack)
    assert len(posts) == 1
    dumped = json.dumps(posts[0]["blocks"], ensure_ascii=False)
    assert "No rows returned for this window" in dumped and "*Rows*\\n0" in dumped


def test_empty_window_with_min_rows_is_skipped_visibly(slack, store, instance):
    store.update(SLUG, spec(query=EMPTY_QUERY, send_if={"min_rows": 1}))
    result = launch(instance)
    assert result.success
    assert report_posts(slack) == [] and post_attempts(slack) == []
    assert delivery_tag(instance, result.run_id) == "skipped"
    detail = step_output_metadata(instance, result.run_id, "post_to_slack")["detail"]
    assert detail == "0 rows < min_rows 1: nothing sent"


# --- Report store ------------------------------------------------------------------------------


def test_code_location_load_error_says_which_store_could_not_be_opened(store, monkeypatch, tmp_path):
    from report_pipelines.definitions import load_repository

    monkeypatch.setenv("REPORT_STORE_URL", f"sqlite:///{tmp_path}")
    with pytest.raises(Exception) as raised:
        load_repository()  # what every code-location load does first
    seen = chain_text(raised.value)
    assert str(tmp_path) in seen or "REPORT_STORE_URL" in seen


def test_loading_the_code_location_with_the_store_unreachable_fails_naming_the_cause(store, home):
    # What `dagster dev` / the code server shows: the load error, from a fresh process.
    env = {**os.environ, "REPORT_STORE_URL": CLOSED_PORT_STORE}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
         "-m", "report_pipelines.definitions", "-d", ROOT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    shown = done.stdout + done.stderr
    assert done.returncode == 1
    assert "Validation failed for code location report_pipelines.definitions" in shown
    assert 'connection to server at "127.0.0.1", port 1 failed: Connection refused' in shown
    assert "s3cret-pw" not in shown  # the store's password stays out of the load error


def test_loading_definitions_from_a_store_that_cannot_be_opened_fails(store, monkeypatch, tmp_path):
    from report_pipelines.definitions import load_repository

    monkeypatch.setenv("REPORT_STORE_URL", f"sqlite:///{tmp_path}")  # a directory, not a file
    from report_pipelines.store import ReportStoreUnavailable

    with pytest.raises(ReportStoreUnavailable, match="unable to open database file") as raised:
        load_repository()  # what every code-location load does first
    assert str(tmp_path) in str(raised.value) and "REPORT_STORE_URL" in str(raised.value)


def test_table_sensor_tick_fails_visibly_when_the_store_is_unreachable(store, instance, monkeypatch):
    sensor = build_report_table_sensor(store.job_shaping_rows())
    monkeypatch.setenv("REPORT_STORE_URL", CLOSED_PORT_STORE)
    with pytest.raises(Exception) as raised:
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    seen = chain_text(raised.value)
    assert 'port 1 failed: Connection refused' in seen and "s3cret-pw" not in seen


def test_table_sensor_tick_fails_visibly_when_the_store_file_is_gone(
    store, instance, home, monkeypatch
):
    sensor = build_report_table_sensor(store.job_shaping_rows())
    (home / "report_store.sqlite").unlink()
    # The next tick runs with fresh connections (a restarted daemon, a recycled pool).
    monkeypatch.setattr(Database, "_open", {})
    try:
        result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    except Exception as err:  # the tick fails, and the daemon shows why
        assert "report" in chain_text(err).lower()
        return
    pytest.fail(
        f"the tick did not fail: it returned {len(result.run_requests)} run request(s) to "
        f"reload the definitions with {len(ReportStore().job_shaping_rows())} reports"
    )


# --- A run worker killed mid-run ---------------------------------------------------------------


KILL_WORKER = textwrap.dedent(
    """
    import os, signal, sys

    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from report_pipelines.store import DeliveryLedger
    from report_pipelines.resources import SlackResource

    root, job_name, key, where = sys.argv[1:]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "before_post":
        SlackResource.deliver = die
    elif where == "between_post_and_ledger":
        DeliveryLedger._complete = die
    else:
        real = SlackResource.deliver

        def deliver(self, *args, **kwargs):
            real(self, *args, **kwargs)
            die()

        SlackResource.deliver = deliver
    repo = ReconstructableRepository.for_module(
        "report_pipelines.definitions", "defs", working_directory=root
    )
    with dg.DagsterInstance.get() as instance:
        dg.execute_job(
            repo.get_reconstructable_job(job_name), instance=instance,
            tags={"dagster/partition": key},
        )
    """
)


def killed_run(instance, slack, where: str):
    """Run the report in a worker process that is SIGKILLed at ``where``; the run is then
    marked failed, as run monitoring does for a dead worker."""
    done = subprocess.run(
        [sys.executable, "-c", KILL_WORKER, ROOT, f"report_{SLUG}", KEY, where],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.STARTED
    instance.report_run_failed(run, message="run worker died (SIGKILL)")
    notify_owner(instance, run.run_id)
    (notice,) = notices(slack)
    assert KEY in notice["text"] and SLUG in notice["text"]
    return run


def reexecute(instance, run, *, from_failure: bool = False):
    options = (
        dg.ReexecutionOptions.from_failure(run.run_id, instance)
        if from_failure
        else dg.ReexecutionOptions(parent_run_id=run.run_id)
    )
    return dg.execute_job(
        code_location_job(), instance=instance, tags={"dagster/partition": KEY},
        reexecution_options=options,
    )


def test_worker_killed_before_posting_then_reexecuted_posts_once(slack, instance):
    run = killed_run(instance, slack, "before_post")
    assert report_posts(slack) == []
    again = reexecute(instance, run)
    assert again.success, failure_text(instance, again.run_id)
    assert len(report_posts(slack)) == 1 and delivery_tag(instance, again.run_id) == "posted"


def test_worker_killed_after_posting_then_reexecuted_from_failure_posts_nothing(slack, instance):
    run = killed_run(instance, slack, "after_delivery")
    assert len(report_posts(slack)) == 1
    again = reexecute(instance, run, from_failure=True)
    assert again.success, failure_text(instance, again.run_id)
    assert delivery_tag(instance, again.run_id) == "already_delivered"
    assert len(report_posts(slack)) == 1 and len(post_attempts(slack)) == 1


def test_worker_killed_between_slack_and_the_ledger_leaves_the_window_in_doubt(slack, instance):
    run = killed_run(instance, slack, "between_post_and_ledger")
    assert len(report_posts(slack)) == 1  # Slack has the message; the ledger never heard
    store = ReportStore()
    entry = DeliveryLedger().get(DeliveryKey(store.get(SLUG).id, KEY, DESTINATION))
    assert entry.status == "sending" and entry.run_id == run.run_id
    again = reexecute(instance, run)
    assert_failed_and_owner_told(instance, slack, again, f"run {run.run_id} started posting", "never confirmed")
    assert len(report_posts(slack)) == 1 and len(post_attempts(slack)) == 1


def test_notice_for_a_run_whose_worker_died_names_the_cause(slack, instance):
    from report_pipelines.definitions import build_repository

    job = build_repository(ReportStore().job_shaping_rows()).get_job(f"report_{SLUG}")
    run = instance.create_run_for_job(job_def=job, tags={**job.tags, "dagster/partition": KEY})
    instance.report_run_failed(run, message="Run worker process died unexpectedly (SIGKILL)")
    notify_owner(instance, run.run_id)
    (notice,) = notices(slack)
    assert "died unexpectedly" in notice["text"]


def test_a_failure_notice_is_posted_once_per_failed_run(slack, store, instance):
    store.update(SLUG, spec(query="SELECT region, SUM(revenue) AS revenue FROM no_such_table GROUP BY region"))
    result = launch(instance)
    assert_failed_and_owner_told(instance, slack, result, "no_such_table")
    # The daemon evaluates the same failure again (restarted before its cursor moved).
    before = len(notices(slack))
    notify_owner(instance, result.run_id)
    notify_owner(instance, result.run_id)
    assert len(notices(slack)) == before
    entries = DeliveryLedger().for_window(store.get(SLUG).id, KEY)
    assert [entry.destination for entry in entries if entry.destination.startswith("notice/")] == [
        f"notice/failure/{result.run_id}"
    ]

