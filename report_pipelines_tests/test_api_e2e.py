"""End to end over HTTP: `report-pipelines api` beside `dagster dev`. A report created through the
API becomes a Dagster job by live sync, runs through the API, and its message reaches Slack."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pytest
import requests
import yaml

from report_pipelines.formatting import format_number
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.dagster_dev import Dev, free_port, partition_status, stop_process_group
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines_tests.test_slack_interactive import signed as slack_signed

BIN = Path(sys.executable).parent
SLACK_TOKEN = "xoxb-7777-api-e2e"
WINDOW = "2026-11-25-09:00"


def wait_for(predicate, what: str, timeout: float = 120, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"{what} not seen within {timeout} s\n{log.read_text()[-3000:] if log else ''}")


@pytest.mark.integration
def test_report_created_over_http_runs_in_dagster_and_posts_to_slack(home, secret_key, tmp_path):
    shutil.copy(Path(__file__).parents[1] / "workspace.yaml", home / "workspace.yaml")
    clear_channel_cache()
    with FakeSlack(tokens={SLACK_TOKEN: "T0001"}) as slack:
        env = {**os.environ, "SLACK_API_URL": slack.url, "REPORT_PIPELINES_JWT_SECRET": secrets.token_urlsafe(32),
               "SLACK_SIGNING_SECRET": secrets.token_hex(16)}
        dev = Dev(home, env, tmp_path / "dev.log")
        port = free_port()
        api_log = tmp_path / "api.log"
        api = subprocess.Popen(
            [str(BIN / "report-pipelines"), "api", "--port", str(port)],
            env=dev.env, stdout=api_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}/api"

        def token(user: str, role: str = "user") -> dict[str, str]:
            minted = subprocess.run([str(BIN / "report-pipelines"), "token", "--user", user, "--role", role],
                                    env=dev.env, capture_output=True, text=True, check=True)
            return {"Authorization": f"Bearer {minted.stdout.strip()}"}

        try:
            wait_for(lambda: requests.get(f"{base}/scheduling/reports", timeout=5).status_code == 401,
                     "the API", 60, api_log)
            alice, bob = token("alice"), token("bob")
            added = requests.post(f"{base}/scheduling/slack/workspace", headers=token("root", "admin"), timeout=30,
                                  json={"team_id": "T0001", "team_name": "Acme", "bot_token": SLACK_TOKEN})
            assert added.status_code == 201 and SLACK_TOKEN not in added.text
            dev.wait_for(lambda: any(j["name"] == "health" for j in dev.repo()["jobs"]), "the code location", 180)

            # Create over HTTP: the report file of the tests, as JSON, without a user_id.
            body = yaml.safe_load((REPORTS / "valid.yaml").read_text())
            body.pop("user_id")
            created = requests.post(f"{base}/scheduling/reports", json=body, headers=alice, timeout=30)
            assert created.status_code == 201, created.text
            report = created.json()
            assert report["user_id"] == "alice" and report["job_name"] == "report_regional_revenue"

            # Before live sync has loaded the job, a run is refused with a time to retry.
            early = requests.post(f"{base}/scheduling/reports/{report['id']}/run", headers=alice, timeout=60)
            assert early.status_code == 409 and early.headers["Retry-After"] == "15", early.text

            seconds = dev.wait_for(
                lambda: "report_regional_revenue" in {j["name"] for j in dev.repo()["jobs"]},
                "the job of the report created over HTTP", 120,
            )
            print(f"job visible {seconds:.1f} s after the POST")

            # Bob cannot run, see or delete it.
            assert requests.post(f"{base}/scheduling/reports/{report['id']}/run", headers=bob, timeout=30).status_code == 404
            assert requests.get(f"{base}/scheduling/reports/{report['id']}/runs", headers=bob, timeout=30).status_code == 404

            launched = requests.post(f"{base}/scheduling/reports/{report['id']}/run", headers=alice,
                                     json={"partition_key": WINDOW}, timeout=60)
            assert launched.status_code == 202, launched.text
            run = launched.json()
            assert run["partition_key"] == WINDOW and run["run_url"] == f"{dev.url}/runs/{run['run_id']}"

            def finished(run_id):
                runs = requests.get(f"{base}/scheduling/reports/{report['id']}/runs", headers=alice, timeout=30).json()
                mine = [r for r in runs if r["run_id"] == run_id]
                return mine[0] if mine and mine[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

            done = wait_for(lambda: finished(run["run_id"]), "the run launched over HTTP", 180, tmp_path / "dev.log")
            assert done["status"] == "SUCCESS", done
            assert len(slack.posts) == 1
            post = slack.posts[0]
            assert post["channel"] == "C0SALES" and "2026-11-25 09:00" in post["text"]
            assert done["slack_ts"] == post["ts"] and done["slack_channel"] == "C0SALES"
            assert done["trigger"] == "api" and done["partition_key"] == WINDOW
            assert done["window_start"] == "2026-11-25T09:00:00Z"

            # The run counts in the job's Partitions tab, as the UI's own GraphQL reports it.
            assert partition_status(dev, "report_regional_revenue", WINDOW) == "SUCCESS"

            # The same window again: already delivered, so nothing runs and nothing is posted
            # (the CLI gives the same answer); the answer names the run that delivered it.
            again = requests.post(f"{base}/scheduling/reports/regional_revenue/run", headers=alice,
                                  json={"partition_key": WINDOW}, timeout=60)
            assert again.status_code == 200, again.text
            assert again.json()["status"] == "ALREADY_DELIVERED" and again.json()["run_id"] == run["run_id"]
            assert len(slack.calls_to("chat.postMessage")) == 1

            # Re-run from Slack: a signed press of the message's own button forces a run of the
            # window, which edits the message in place once; the presser is told in private.
            rerun = next(b for b in post["blocks"] if b["type"] == "actions")["elements"][0]
            payload = {"type": "block_actions", "user": {"id": "U0BOB"}, "team": {"id": "T0001"},
                       "response_url": slack.response_url("rerun"),
                       "actions": [{**rerun, "action_ts": "1764000000.5"}]}
            form = urlencode({"payload": json.dumps(payload)}).encode()
            pressed = requests.post(f"http://127.0.0.1:{port}/slack/interactions", data=form, timeout=10, headers={
                "Content-Type": "application/x-www-form-urlencoded", **slack_signed(form, env["SLACK_SIGNING_SECRET"])})
            assert pressed.status_code == 200 and pressed.elapsed.total_seconds() < 3
            told = wait_for(lambda: slack.responses, "the ephemeral answer to the press", 60, api_log)
            assert told[0]["response_type"] == "ephemeral" and told[0]["text"].startswith("Re-running Regional Revenue"), told
            wait_for(lambda: slack.calls_to("chat.update"), "the message edited by the re-run", 180, tmp_path / "dev.log")
            time.sleep(3)
            assert len(slack.calls_to("chat.update")) == 1 and len(slack.calls_to("chat.postMessage")) == 1
            forged = requests.post(f"http://127.0.0.1:{port}/slack/interactions", data=form, timeout=10, headers={
                "Content-Type": "application/x-www-form-urlencoded", **slack_signed(form, "not-the-secret")})
            assert forged.status_code == 401

            # A question in the report message's thread: one run of thread_question answers it in
            # the thread from that window's data; Slack's retry of the event asks nothing again.
            event = {"type": "event_callback", "event_id": "Ev0E2E", "event": {
                "type": "message", "channel": post["channel"], "user": "U0BOB", "ts": "1764000010.000100",
                "thread_ts": post["ts"], "text": "What was the revenue that day?"}}
            body = json.dumps(event).encode()
            for attempt in ("0", "1"):
                asked = requests.post(f"http://127.0.0.1:{port}/slack/events", data=body, timeout=10, headers={
                    "Content-Type": "application/json", "X-Slack-Retry-Num": attempt,
                    **slack_signed(body, env["SLACK_SIGNING_SECRET"])})
                assert asked.status_code == 200 and asked.elapsed.total_seconds() < 3
            thread = wait_for(lambda: [p for p in slack.posts if p["thread_ts"] == post["ts"]],
                              "the answer in the thread", 180, tmp_path / "dev.log")
            with duckdb.connect(str(home / "demo_warehouse.duckdb"), read_only=True) as conn:
                total = conn.execute("SELECT SUM(revenue) FROM sales WHERE order_date = DATE '2026-11-25'").fetchone()[0]
            assert f"revenue totalled {format_number(total)}" in thread[0]["text"], thread
            time.sleep(3)
            assert len([p for p in slack.posts if p["thread_ts"] == post["ts"]]) == 1

            # Deleting over HTTP removes the job by the same live sync.
            assert requests.delete(f"{base}/scheduling/reports/{report['id']}", headers=alice, timeout=30).status_code == 200
            dev.wait_for(lambda: "report_regional_revenue" not in {j["name"] for j in dev.repo()["jobs"]},
                         "the deleted report's job gone", 120)

            # Neither the bot token nor the JWT secret is written anywhere: not in DAGSTER_HOME
            # (store, run storage, event logs, compute logs), nor in what the servers logged.
            secrets_ = [SLACK_TOKEN.encode(), env["REPORT_PIPELINES_JWT_SECRET"].encode(),
                        env["SLACK_SIGNING_SECRET"].encode()]
            written = [path for path in [*home.rglob("*"), api_log, tmp_path / "dev.log"] if path.is_file()]
            assert len(written) > 10
            for path in written:
                data = path.read_bytes()
                assert not any(secret in data for secret in secrets_), path
        finally:
            stop_process_group(api)
            dev.stop()
