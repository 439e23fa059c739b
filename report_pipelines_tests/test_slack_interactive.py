"""Slack calling the API server: requests signed with slack_sdk's SignatureVerifier scheme, button
presses on report messages, the presser's ephemeral answers through the local Slack."""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlencode

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from report_pipelines.api.app import create_app
from report_pipelines.cli import main
from report_pipelines.definitions import build_repository
from report_pipelines.report_files import load_report_text
from report_pipelines.slack.blocks import ACTIONS_BLOCK_ID
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines.slack.limits import validate_message
from report_pipelines.store import AuditLog, ReportStore, WorkspaceStore
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-6666-interactive"
KEY = "2026-11-25-09:00"


def signed(body: bytes, secret: str = SIGNING_SECRET, *, age: float = 0) -> dict[str, str]:
    """Headers as Slack sends them, signed by slack_sdk's own SignatureVerifier."""
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@pytest.fixture
def slack(home, secret_key, monkeypatch):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        yield fake


@pytest.fixture
def client(home, monkeypatch, slack):
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", "interactive-tests-secret-0123456789abcdef")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("REPORT_PIPELINES_SLACK_ADMINS", raising=False)
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def report(home):
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    store = ReportStore()
    return store.add(spec.model_copy(update={"user_id": "alice@example.com"}))


def press(client, slack, *, user: str, action: dict, ts: str = "1764000000.000100", headers=None):
    payload = {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"},
        "response_url": slack.response_url(f"{user}-{ts}"), "actions": [{**action, "action_ts": ts}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return client.post("/slack/interactions", content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or signed(body))})


def snooze(report, choice: str) -> dict:
    return {"action_id": "report_snooze", "type": "static_select",
            "selected_option": {"value": json.dumps({"report": report.id, "snooze": choice})}}


def test_url_verification_is_answered_only_when_signed(client):
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    answer = client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **signed(body)})
    assert answer.status_code == 200 and answer.json()["challenge"].startswith("3eZbrw1a")
    forged = client.post("/slack/events", content=body, headers={"Content-Type": "application/json",
                                                                  **signed(body, secret="not-the-secret")})
    assert forged.status_code == 401 and "challenge" not in forged.text


@pytest.mark.parametrize(
    "headers",
    [signed(b"something else"), signed(b"", secret="wrong"), {}, "stale"],
    ids=["other-body", "other-secret", "unsigned", "six-minutes-old"],
)
def test_a_bad_or_stale_signature_changes_nothing(client, slack, report, headers):
    payload = {"type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T0001"},
               "response_url": slack.response_url("x"), "actions": [{**snooze(report, "1w"), "action_ts": "1"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed(body, age=6 * 60) if headers == "stale" else headers
    answer = client.post("/slack/interactions", content=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    assert answer.status_code == 401
    assert ReportStore().get(report.id).snoozed_until is None
    assert slack.responses == [] and AuditLog().entries(report_id=report.id) == []


def test_the_owner_snoozes_a_report_and_scheduled_windows_are_skipped(client, slack, report, instance):
    before = dt.datetime.now(dt.timezone.utc)
    assert press(client, slack, user="U0ALICE", action=snooze(report, "1w")).status_code == 200
    snoozed = ReportStore().get(report.id)
    assert before + dt.timedelta(days=7) <= snoozed.snoozed_until <= before + dt.timedelta(days=7, minutes=1)
    assert snoozed.snoozed_by == "slack:U0ALICE"
    (told,) = slack.responses
    assert told["response_type"] == "ephemeral" and "Regional Revenue is snoozed until" in told["text"]
    assert AuditLog().entries(report_id=report.id)[0].action == "report.snoozed"

    # A window whose scheduled time falls in the snooze: skipped, with the reason in its metadata.
    job = build_repository(ReportStore().job_shaping_rows()).get_job("report_regional_revenue")
    now_key = (before - dt.timedelta(days=1)).strftime("%Y-%m-%d-09:00")
    scheduled = job.execute_in_process(instance=instance, partition_key=now_key,
                                       tags={"dagster/schedule_name": "report_regional_revenue_schedule"})
    assert instance.get_run_by_id(scheduled.run_id).tags["report_pipelines/delivery"] == "skipped"
    output = next(e for e in scheduled.all_events
                  if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "post_to_slack")
    assert "snoozed until" in output.event_specific_data.metadata["detail"].value
    assert slack.posts == []
    # A person's own run still goes out, and its message carries the buttons.
    manual = job.execute_in_process(instance=instance, partition_key=KEY)
    assert manual.success
    (post,) = slack.posts
    actions = next(block for block in post["blocks"] if block["type"] == "actions")
    assert actions["block_id"] == ACTIONS_BLOCK_ID and validate_message(post["blocks"], post["text"]) == []
    assert json.loads(actions["elements"][0]["value"]) == {"report": report.id, "window": KEY}
    assert actions["elements"][2]["url"].endswith(f"/runs/{manual.run_id}")

    # Re-enabling ends the snooze.
    from click.testing import CliRunner

    assert CliRunner().invoke(main, ["reports", "enable", report.slug]).exit_code == 0
    assert ReportStore().get(report.id).snoozed_until is None


def test_someone_else_may_not_snooze_unless_listed(client, slack, report, monkeypatch):
    press(client, slack, user="U0BOB", action=snooze(report, "off"), ts="2")
    assert ReportStore().get(report.id).snoozed_until is None
    assert "Only the owner of Regional Revenue (alice@example.com)" in slack.responses[-1]["text"]
    monkeypatch.setenv("REPORT_PIPELINES_SLACK_ADMINS", "carol@example.com, U0BOB")
    press(client, slack, user="U0BOB", action=snooze(report, "off"), ts="3")
    assert ReportStore().get(report.id).snoozed_until.year == 9999
    assert "snoozed until it is re-enabled" in slack.responses[-1]["text"]


def test_a_press_delivered_twice_acts_once(client, slack, report):
    for _ in range(2):
        assert press(client, slack, user="U0ALICE", action=snooze(report, "1d"), ts="42").status_code == 200
    assert len(slack.responses) == 1
    assert [entry.action for entry in AuditLog().entries(report_id=report.id)].count("report.snoozed") == 1


def test_rerun_without_a_webserver_tells_the_presser_why(client, slack, report):
    rerun = {"action_id": "report_rerun", "type": "button", "value": json.dumps({"report": report.id, "window": KEY})}
    assert press(client, slack, user="U0BOB", action=rerun).status_code == 200
    (told,) = slack.responses
    assert told["response_type"] == "ephemeral" and told["text"].startswith("The re-run could not start:")


def test_workspaces_test_names_the_scopes_the_buttons_need(home, secret_key, monkeypatch):
    from click.testing import CliRunner

    token = "xoxb-6667-interactive-scopes"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}, scopes=["chat:write", "channels:read"]) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        WorkspaceStore().add("T0001", "Acme", token)
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        assert CliRunner().invoke(main, ["workspaces", "test", "T0001"]).exit_code == 0
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        tested = CliRunner().invoke(main, ["workspaces", "test", "T0001"])
        assert tested.exit_code == 1
        assert "users:read (for finding who pressed Snooze (interactivity))" in tested.output
        assert "users:read.email (for matching who pressed Snooze" in tested.output
        assert "channels:history (for receiving questions" in tested.output and "app_mentions:read" in tested.output


APP_TOKEN = "xapp-1-A0REPORTS-1-localsocketmode"


def test_socket_mode_handles_the_same_presses_without_a_public_url(home, secret_key, report, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from report_pipelines_tests.fakes.socket_mode import FakeSocketMode

    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001", APP_TOKEN: "T0001"}) as fake, FakeSocketMode() as socket:
        fake.socket_mode_url = socket.url
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        env = {**os.environ, "SLACK_API_URL": fake.url, "SLACK_APP_TOKEN": APP_TOKEN}
        env.pop("SLACK_SIGNING_SECRET", None)  # Socket Mode needs no signing secret
        log = tmp_path / "listen.log"
        listener = subprocess.Popen([str(Path(sys.executable).parent / "report-pipelines"), "slack-listen"], env=env,
                                    stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            socket.wait_connected(60)
            press_ = {"type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T0001"},
                      "response_url": fake.response_url("socket"), "actions": [{**snooze(report, "1d"), "action_ts": "7"}]}
            first = socket.push("interactive", press_)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not fake.responses:
                time.sleep(0.2)
            assert fake.responses, log.read_text()
            assert ReportStore().get(report.id).snoozed_by == "slack:U0ALICE"
            assert fake.responses[0]["response_type"] == "ephemeral" and "snoozed until" in fake.responses[0]["text"]
            # Slack redelivers an envelope it saw no ack for: acknowledged again, acted on once.
            again = socket.push("interactive", press_)
            other = socket.push("events_api", {"event": {"type": "app_mention", "text": "hi"}})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(socket.acks) < 3:
                time.sleep(0.2)
            assert [ack["envelope_id"] for ack in socket.acks] == [first, again, other]
            time.sleep(1)
            assert len(fake.responses) == 1
            assert len(fake.calls_to("apps.connections.open")) == 1
        finally:
            listener.send_signal(signal.SIGINT)
            listener.wait(timeout=30)
    assert listener.returncode == 0, log.read_text()


def test_slack_listen_refuses_a_bot_token(home, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-not-an-app-token")
    refused = CliRunner().invoke(main, ["slack-listen"])
    assert refused.exit_code == 2 and "SLACK_APP_TOKEN must be an app-level token (xapp-" in refused.output
