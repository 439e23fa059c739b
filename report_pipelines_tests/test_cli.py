"""The report-pipelines command, as people use it."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from report_pipelines.cli import main
from report_pipelines.formatting import format_number
from report_pipelines.slack.blocks import validate_message
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines.store import WorkspaceStore

VALID = yaml.safe_load((REPORTS / "valid.yaml").read_text())
CLI = str(Path(sys.executable).parent / "report-pipelines")


def cli(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def store_fingerprint(home: Path) -> str:
    path = home / "report_store.sqlite"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def write(tmp_path: Path, data, name="report.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def test_report_lifecycle(home, tmp_path):
    assert cli("init").exit_code == 0
    added = cli("reports", "add", write(tmp_path, VALID))
    assert added.exit_code == 0 and added.output.strip() == "regional_revenue"

    listed = json.loads(cli("reports", "list", "--json").output)
    assert [(r["slug"], r["cron"], r["schedule"]["enabled"]) for r in listed] == [
        ("regional_revenue", "0 9 * * *", True)
    ]
    assert "regional_revenue  enabled" in cli("reports", "list").output

    assert cli("reports", "disable", "regional_revenue").exit_code == 0
    shown = json.loads(cli("reports", "show", "regional_revenue", "--json").output)
    assert shown["schedule"]["enabled"] is False and shown["user_id"] == "alice"

    renamed = dict(VALID, name="Regional Revenue EU")
    updated = cli("reports", "update", "regional_revenue", write(tmp_path, renamed))
    assert updated.output.strip() == "regional_revenue_eu"
    assert cli("reports", "enable", "regional_revenue_eu").exit_code == 0
    assert cli("reports", "delete", "regional_revenue_eu").exit_code == 0
    assert json.loads(cli("reports", "list", "--json").output) == []
    missing = cli("reports", "show", "regional_revenue_eu")
    assert missing.exit_code == 1 and "no report 'regional_revenue_eu'" in missing.output


BAD_FILES = [
    ("name: [unclosed", "not valid YAML"),
    ('{"name": "x", ', "not valid JSON"),
    ("", "empty"),
    (dict(VALID, name=""), "name:"),
    (dict(VALID, name="Regional  revenue!"), "already used"),  # same slug as the stored report
    ({k: v for k, v in VALID.items() if k != "query"}, "query: required"),
    (dict(VALID, schedule={"frequency": "hourly"}), "schedule.frequency:"),
    (dict(VALID, schedule={"frequency": "daily", "time": "25:00"}), "schedule.time:"),
    (dict(VALID, schedule={"frequency": "daily", "timezone": "Moon/Base"}), "schedule.timezone:"),
    (dict(VALID, schedule={"cron": "0 9 * *"}), "schedule.cron:"),
    (dict(VALID, schedule={"frequency": "daily", "start_date": "yesterday"}), "schedule.start_date:"),
    (dict(VALID, schedule={"frequency": "weekly", "day_of_week": 9}), "schedule.day_of_week:"),
    (dict(VALID, schedule={"frequency": "monthly", "day_of_month": 31}), "schedule.day_of_month:"),
    (dict(VALID, analysis={"mode": "slow"}), "analysis.mode:"),
    (dict(VALID, analysis={"audience": "board"}), "analysis.audience:"),
    (dict(VALID, slack_config={"notification_type": "channel"}), "slack_config: notification_type 'channel' needs"),
    (dict(VALID, slack_config={"notification_type": "dm"}), "slack_config: notification_type 'dm' needs"),
    (dict(VALID, owner="bob"), "owner: unknown key"),
]


@pytest.mark.parametrize(("content", "phrase"), BAD_FILES)
def test_malformed_report_files_are_refused_and_change_nothing(home, tmp_path, content, phrase):
    assert cli("reports", "add", write(tmp_path, VALID, "good.yaml")).exit_code == 0
    before = store_fingerprint(home)
    commands = [("reports", "add"), ("reports", "update", "regional_revenue")]
    if phrase == "already used":
        commands = commands[:1]  # renaming a report onto its own slug is a valid update
    for command in commands:
        result = CliRunner().invoke(main, [*command, write(tmp_path, content)])
        assert result.exit_code == 2, result.output
        assert phrase in result.output
        assert store_fingerprint(home) == before


def test_missing_file_is_a_clear_error(home, tmp_path):
    result = cli("reports", "add", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.output


def test_workspace_tokens_are_encrypted_and_never_printed(home, secret_key, monkeypatch):
    token = "xoxb-9999-very-secret"
    missing_key = CliRunner().invoke(
        main, ["workspaces", "add", "--team-id", "T0001", "--team-name", "Acme", "--token-stdin"],
        input=token + "\n", env={"REPORT_PIPELINES_SECRET_KEY": ""},
    )
    assert missing_key.exit_code == 2 and "REPORT_PIPELINES_SECRET_KEY is not set" in missing_key.output

    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    with FakeSlack(tokens={token: "T0001", "xoxb-1-other-team": "T0666"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        added = cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme")
        # auth.test decides: another team's token is refused and nothing is stored.
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-other-team")
        swapped = cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme")
        monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    assert swapped.exit_code == 2 and "belongs to team T0666, not T0001" in swapped.output
    assert added.exit_code == 0 and token not in added.output
    listed = cli("workspaces", "list", "--json")
    assert json.loads(listed.output)[0]["team_id"] == "T0001" and token not in listed.output
    raw = sqlite3.connect(home / "report_store.sqlite").execute(
        "SELECT bot_token_encrypted FROM slack_workspaces"
    ).fetchone()[0]
    assert token not in raw and token.encode() not in (home / "report_store.sqlite").read_bytes()

    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        tested = cli("workspaces", "test", "T0001")
        assert tested.exit_code == 0 and "token ok" in tested.output and "chat:write" in tested.output
        slack.revoke(token)
        revoked = CliRunner().invoke(main, ["workspaces", "test", "T0001"])
        assert revoked.exit_code == 1 and "revoked" in revoked.output and token not in revoked.output


@pytest.fixture
def sqlite_warehouse(tmp_path) -> str:
    """Another SQLAlchemy warehouse: SQLite with a small orders table."""
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orders (day TEXT, region TEXT, amount NUMERIC, qty INTEGER)")
    rows = [
        ("2026-11-24", "North", "10.10", 1),
        ("2026-11-25", "North", "100.25", 3),
        ("2026-11-25", "South", "<!channel> & co", 0),
        ("2026-11-25", "South", "50.50", 2),
        ("2026-11-25", "West", "0.05", 7),
        ("2026-11-26", "West", "999.99", 9),
    ]
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def run_cli(*args, env=None, timeout=240):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_run_posts_one_message_with_exact_figures(home, tmp_path, secret_key, sqlite_warehouse, monkeypatch):
    report = dict(
        VALID,
        query=(
            "SELECT region, CAST(SUM(qty) AS INTEGER) AS qty, COUNT(*) AS orders FROM orders "
            "WHERE day >= @window_start_date AND day < @window_end_date AND region <> 'x@window_end' "
            "GROUP BY region ORDER BY region"
        ),
        slack_config={"notification_type": "channel", "slack_channel": "#sales", "team_id": "T0001"},
        schedule={"frequency": "daily", "time": "09:00", "timezone": "UTC", "start_date": "2026-11-01"},
    )
    monkeypatch.setenv("WAREHOUSE_URL", sqlite_warehouse)
    assert cli("reports", "add", write(tmp_path, report)).exit_code == 0
    token = "xoxb-2222-run-token"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack:
        for i in range(250):  # the channel is on the second page of conversations.list
            slack.add_channel(f"C1{i:05d}", f"chan-{i}")
        env = {"SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": token}
        assert run_cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme", env=env).returncode == 0

        first = run_cli("run", "regional_revenue", "--partition", "2026-11-25-09:00", env=env)
        assert first.returncode == 0, first.stderr
        assert "succeeded" in first.stdout and "posted to #sales (C0SALES)" in first.stdout
        assert len(slack.calls_to("chat.postMessage")) == 1
        post = slack.posts[0]
        assert post["channel"] == "C0SALES"
        assert validate_message(post["blocks"], post["text"]) == []
        dumped = json.dumps(post["blocks"], ensure_ascii=False)
        # Window 2026-11-25 09:00 -> 2026-11-26 09:00 UTC covers day 2026-11-25 only: qty 3+0+2+7.
        assert "Total: 12" in dumped and f"Total: {format_number(4)}" in dumped
        assert "2026-11-25 09:00 → 2026-11-26 09:00 UTC" in dumped

        again = run_cli("run", "regional_revenue", "--partition", "2026-11-25-09:00", env=env)
        assert again.returncode == 0 and "already delivered" in again.stdout
        assert len(slack.calls_to("chat.postMessage")) == 1
        forced = run_cli("run", "regional_revenue", "--partition", "2026-11-25-09:00", "--force", env=env)
        # A forced re-run edits the window's message in place: still one message in the channel.
        assert forced.returncode == 0 and "updated the earlier message" in forced.stdout
        assert len(slack.calls_to("chat.postMessage")) == 1
        assert [c["ts"] for c in slack.calls_to("chat.update")] == [post["ts"]]

        slack.fail_next("chat.postMessage", error="channel_not_found", status=200)
        failed = run_cli("run", "regional_revenue", "--partition", "2026-11-24-09:00", env=env)
        assert failed.returncode == 1
        assert "2026-11-24-09:00 failed" in failed.stderr and "post_to_slack" in failed.stderr
        assert "not found" in failed.stderr
        assert token not in failed.stdout + failed.stderr + first.stdout + first.stderr

    bad_key = run_cli("run", "regional_revenue", "--partition", "2026-11-25")
    assert bad_key.returncode == 2 and "%Y-%m-%d-%H:%M" in bad_key.stderr
    too_early = run_cli("run", "regional_revenue", "--partition", "2020-01-01-09:00")
    assert too_early.returncode == 2 and "not a window" in too_early.stderr


def test_preview_and_next_runs(demo_store):
    preview = cli("preview", "daily_sales_report", "--partition", "2026-11-25-09:00", "--json")
    payload = json.loads(preview.output)
    assert validate_message(payload["blocks"], payload["text"]) == []
    assert payload["text"].startswith("📊 Daily Sales Report")

    upcoming = json.loads(cli("next-runs", "--hours", "744", "--json").output)
    slugs = {run["slug"] for run in upcoming}
    assert slugs == {"daily_sales_report", "weekly_regional_revenue", "monthly_product_performance"}
    daily = [r for r in upcoming if r["slug"] == "daily_sales_report"]
    assert all(r["utc_time"].endswith("09:00:00+00:00") for r in daily)
    demo_store.set_enabled("daily_sales_report", False)
    text = cli("next-runs", "--hours", "744").output
    assert "daily_sales_report" not in text and "weekly_regional_revenue" in text


@pytest.mark.integration
def test_demo_no_serve_on_a_fresh_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REPORT_STORE_URL", "WAREHOUSE_URL")}
    result = subprocess.run([CLI, "demo", "--no-serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("rendered message: "))
    preview = Path(line.removeprefix("rendered message: "))
    assert preview.is_relative_to(tmp_path / ".dagster_home" / "previews")
    payload = json.loads(preview.read_text())
    assert validate_message(payload["blocks"], payload["text"]) == []
    again = subprocess.run([CLI, "demo", "--no-serve"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "demo report added" not in again.stdout


def test_workspace_scopes_deactivate_and_key_rotation(home, tmp_path, secret_key, monkeypatch):
    from cryptography.fernet import Fernet

    from report_pipelines.store import ReportStore, WorkspaceStore

    token = "xoxb-8888-scope-token"
    dm_report = dict(VALID, name="DM Report",
                     slack_config={"notification_type": "dm", "slack_user_id": "bob@example.com"},
                     attachments={"csv": True})
    assert cli("reports", "add", write(tmp_path, dm_report)).exit_code == 0
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}, scopes=["chat:write", "im:write"]) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", token)
        assert cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme").exit_code == 0
        tested = CliRunner().invoke(main, ["workspaces", "test", "T0001"])
        assert tested.exit_code == 1
        assert "users:read.email" in tested.output and "files:write" in tested.output
        assert "im:write (" not in tested.output  # granted, so not listed as missing
        slack.scopes = ["chat:write", "im:write", "users:read.email", "files:write"]
        assert cli("workspaces", "test", "T0001").exit_code == 0

        new_key = Fernet.generate_key().decode()
        rotated = CliRunner().invoke(main, ["workspaces", "rotate-key", "--new-key-stdin"], input=new_key + "\n")
        assert rotated.exit_code == 0 and "1 workspace tokens re-encrypted" in rotated.output
        monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", new_key)
        assert WorkspaceStore().token("T0001") == token
        wrong = CliRunner().invoke(main, ["workspaces", "rotate-key", "--new-key-stdin"], input="not-a-key\n")
        assert wrong.exit_code == 2 and "not a valid Fernet key" in wrong.output

        assert cli("workspaces", "deactivate", "T0001").exit_code == 0
        assert json.loads(cli("workspaces", "list", "--json").output)[0]["active"] is False


def test_show_yaml_feeds_back_into_update_unchanged(home, tmp_path):
    full = dict(VALID, name="Round Trip", description="Every field set",
                schedule={"frequency": "weekly", "day_of_week": "friday", "time": "07:30",
                          "timezone": "America/New_York", "start_date": "2026-02-01", "enabled": False},
                slack_config={"notification_type": "dm", "slack_user_id": "bob@example.com", "team_id": "T0001"},
                analysis={"mode": "deep", "audience": "general"}, attachments={"chart": True, "csv": False},
                send_if={"metric": "revenue", "stat": "average", "op": ">=", "value": 12.5})
    assert cli("reports", "add", write(tmp_path, full)).exit_code == 0
    before = json.loads(cli("reports", "show", "round_trip", "--json").output)

    shown = cli("reports", "show", "round_trip", "--yaml").output
    assert set(yaml.safe_load(shown)) == set(full)  # the file's keys, nothing derived
    fed_back = CliRunner().invoke(main, ["reports", "update", "round_trip", "-"], input=shown)
    assert fed_back.exit_code == 0, fed_back.output
    after = json.loads(cli("reports", "show", "round_trip", "--json").output)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {k: v for k, v in before.items() if k != "updated_at"}

    # The default view is the same file headed by comments naming the report's id, job and cron.
    plain = cli("reports", "show", "round_trip").output
    assert plain.startswith(f"# report #{before['id']} round_trip: job report_round_trip, cron 30 7 * * 5 (America/New_York)")
    assert CliRunner().invoke(main, ["reports", "update", "round_trip", "-"], input=plain).exit_code == 0
    # So is what --json prints (its derived keys are taken as the report they describe).
    as_json = CliRunner().invoke(main, ["reports", "update", "round_trip", "-"], input=json.dumps(before))
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(cli("reports", "show", "round_trip", "--json").output)["schedule"] == before["schedule"]


@pytest.mark.parametrize(("written", "suggested"), [("10:30", '"10:30"'), ("9:05", '"09:05"'), ("9", '"HH:MM"')])
def test_an_unquoted_time_gets_told_to_quote_it(home, tmp_path, written, suggested):
    text = (REPORTS / "valid.yaml").read_text().replace('time: "09:00"', f"time: {written}")
    path = tmp_path / "unquoted.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["reports", "add", str(path)])
    assert result.exit_code == 2
    assert f"schedule.time: put the time in quotes: time: {suggested}" in result.output


def test_next_runs_names_the_timezone_once_for_utc(demo_store):
    table = cli("next-runs", "--hours", "48").output
    daily = [line for line in table.splitlines() if line.startswith("daily_sales_report")]
    assert daily and all(" UTC " in line and "(UTC)" not in line for line in daily)
    weekly = [line for line in cli("next-runs", "--hours", "192").output.splitlines()
              if line.startswith("weekly_regional_revenue")]
    assert weekly and all("(Europe/London)" in line for line in weekly)


def test_init_creates_the_report_ops_pools_in_dagster(home):
    import dagster as dg

    from report_pipelines.names import POOLS

    for _ in range(2):  # safe to repeat
        done = cli("init")
        assert done.exit_code == 0, done.output
        assert f"op pools ready: {', '.join(POOLS)}" in done.output
    with dg.DagsterInstance.get() as instance:
        assert set(POOLS) <= set(instance.event_log_storage.get_concurrency_keys())
        limits = {pool: instance.event_log_storage.get_concurrency_info(pool).slot_count for pool in POOLS}
    # At the instance's default pool limit, which stays in force as the setting changes.
    assert set(limits.values()) == {instance.global_op_concurrency_default_limit}, limits
