"""Malformed report files and CLI misuse: a non-zero exit, a message naming the field or the
argument at fault, and a report store left byte-for-byte as it was."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from report_pipelines.cli import main
from report_pipelines.models import ReportSpec
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines_tests.conftest import REPORTS

VALID_TEXT = (REPORTS / "valid.yaml").read_text()
VALID = yaml.safe_load(VALID_TEXT)
SLUG = "regional_revenue"
KEY = "2026-11-25-09:00"
DELETE = object()


def changed(**paths) -> dict:
    """VALID with ``a__b=value`` set (or removed with DELETE)."""
    data = copy.deepcopy(VALID)
    for path, value in paths.items():
        *parents, last = path.split("__")
        target = data
        for key in parents:
            target = target.setdefault(key, {})
        if value is DELETE:
            target.pop(last)
        else:
            target[last] = value
    return data


def store_digest(home: Path) -> str:
    return hashlib.sha256((home / "report_store.sqlite").read_bytes()).hexdigest()


@pytest.fixture
def stored(home, secret_key):
    """A store holding the valid report and one Slack workspace; yields its digest."""
    store = ReportStore()
    store.add(load_report_text(VALID_TEXT))
    WorkspaceStore().add("T0001", "Acme", "xoxb-1111-bad-input-token")
    return store_digest(home)


def invoke(args, *, input=None, env=None):
    return CliRunner().invoke(main, args, input=input, env=env)


def write(tmp_path: Path, content, name="report.yaml") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return str(path)


# --- Report files ------------------------------------------------------------------------------


BAD_FILES = [
    # syntax
    ("yaml-unclosed-bracket", "name: [unclosed\n", "not valid YAML (line"),
    ("yaml-tab-indentation", "name: A\nschedule:\n\tfrequency: daily\n", "not valid YAML"),
    ("yaml-mapping-in-scalar", "name: A: B\n", "not valid YAML (line 1"),
    ("json-trailing-comma", '{"name": "A",}', "not valid JSON (line 1, column"),
    ("json-single-quotes", "{'name': 'A'}", "not valid JSON"),
    ("json-list-at-top", json.dumps([VALID]), "report: the file must hold one mapping"),
    ("yaml-plain-sentence", "a daily sales report please\n", "report: the file must hold one mapping"),
    ("empty-file", "", "the file is empty"),
    ("only-comments", "# nothing here yet\n", "the file is empty"),
    pytest.param(
        "not-utf8", "name: Caf\xe9 Report\n".encode("latin-1"), "UTF-8",
        id="not-utf8",
    ),
    pytest.param(
        "duplicate-key", yaml.safe_dump(VALID, sort_keys=False) + "name: Other Report\n",
        "name",
        id="duplicate-key",
    ),
    # wrong types
    ("name-number", changed(name=123), "name: Input should be a valid string"),
    ("name-list", changed(name=["Regional"]), "name: Input should be a valid string"),
    ("query-list", changed(query=["SELECT 1"]), "query: Input should be a valid string"),
    ("user-id-number", changed(user_id=42), "user_id: Input should be a valid string"),
    ("description-number", changed(description=5), "description: Input should be a valid string"),
    ("schedule-string", changed(schedule="daily at 9"), "schedule: Input should be a valid dictionary"),
    ("schedule-list", changed(schedule=[{"frequency": "daily"}]), "schedule: Input should be a valid dictionary"),
    ("enabled-string", changed(schedule__enabled="sometimes"), "schedule.enabled: Input should be a valid boolean"),
    ("enabled-list", changed(schedule__enabled=[True]), "schedule.enabled: Input should be a valid boolean"),
    # YAML 1.1 reads an unquoted 9:30 as the base-60 integer 570.
    # YAML reads an unquoted 9:30 as the number 570: the answer says to quote it.
    ("time-unquoted", VALID_TEXT.replace('time: "09:00"', "time: 9:30"),
     'schedule.time: put the time in quotes: time: "09:30"'),
    ("slack-config-list", changed(slack_config=["#sales"]), "slack_config: Input should be a valid dictionary"),
    ("slack-channel-number", changed(slack_config__slack_channel=123),
     "slack_config.slack_channel: Input should be a valid string"),
    ("analysis-string", changed(analysis="quick"), "analysis: Input should be a valid dictionary"),
    ("attachments-list", changed(attachments=["csv"]), "attachments: Input should be a valid dictionary"),
    ("attachments-chart-string", changed(attachments={"chart": "maybe"}),
     "attachments.chart: Input should be a valid boolean"),
    ("send-if-number", changed(send_if=5), "send_if: Input should be a valid dictionary"),
    # field constraints
    ("name-missing", changed(name=DELETE), "name: required field is missing"),
    ("name-empty", changed(name=""), "name: String should have at least 1 character"),
    ("name-punctuation-only", changed(name="!!!"), "name: name '!!!' needs at least one letter or digit"),
    ("name-too-long", changed(name="R" * 121), "name: String should have at most 120 characters"),
    ("query-missing", changed(query=DELETE), "query: required field is missing"),
    ("query-empty", changed(query=""), "query: String should have at least 1 character"),
    ("prompt-in-quick-mode", changed(query="Which region sold the most this week?"),
     "analysis: the query reads as a plain-language prompt, not SQL"),
    ("user-id-missing", changed(user_id=DELETE), "user_id: required field is missing"),
    ("user-id-blank", changed(user_id="   "), "user_id: String should have at least 1 character"),
    ("schedule-missing", changed(schedule=DELETE), "schedule: required field is missing"),
    ("schedule-neither", changed(schedule={"time": "09:00"}), "schedule: give a frequency (daily, weekly, monthly) or a cron"),
    ("schedule-both", changed(schedule__cron="0 9 * * *"), "schedule: give either frequency or cron, not both"),
    ("frequency-hourly", changed(schedule__frequency="hourly"), "schedule.frequency: Input should be 'daily', 'weekly' or 'monthly' (got 'hourly')"),
    ("time-24", changed(schedule__time="24:00"), "schedule.time: time '24:00' must be HH:MM between 00:00 and 23:59"),
    ("time-minute-60", changed(schedule__time="9:60"), "schedule.time: time '9:60' must be HH:MM"),
    ("time-with-seconds", changed(schedule__time="09:00:00"), "schedule.time: time '09:00:00' must be HH:MM"),
    ("timezone-lowercase", changed(schedule__timezone="europe/london"), "schedule.timezone: timezone 'europe/london' is not an IANA timezone name"),
    ("timezone-offset", changed(schedule__timezone="UTC+2"), "schedule.timezone: timezone 'UTC+2' is not an IANA"),
    ("weekday-7", changed(schedule={"frequency": "weekly", "day_of_week": 7}), "schedule.day_of_week: day_of_week 7 must be 0 (Monday) to 6 (Sunday)"),
    ("weekday-name", changed(schedule={"frequency": "weekly", "day_of_week": "funday"}), "schedule.day_of_week: day_of_week 'funday' must be a weekday name"),
    ("weekday-on-daily", changed(schedule__day_of_week="monday"), "schedule: day_of_week applies only to weekly reports"),
    ("month-day-0", changed(schedule={"frequency": "monthly", "day_of_month": 0}), "schedule.day_of_month: day_of_month 0 must be 1-28 or 'last'"),
    ("month-day-31", changed(schedule={"frequency": "monthly", "day_of_month": 31}), "schedule.day_of_month: day_of_month 31 must be 1-28 or 'last'"),
    ("month-day-first", changed(schedule={"frequency": "monthly", "day_of_month": "first"}), "schedule.day_of_month"),
    ("month-day-on-weekly", changed(schedule={"frequency": "weekly", "day_of_month": 3}), "schedule: day_of_month applies only to monthly reports"),
    ("cron-six-fields", changed(schedule={"cron": "0 0 9 * * *"}), "schedule.cron: cron '0 0 9 * * *' is not a valid 5-field cron expression"),
    ("cron-minute-61", changed(schedule={"cron": "61 9 * * *"}), "schedule.cron: cron '61 9 * * *' is not a valid"),
    ("start-date-feb-30", changed(schedule__start_date="2026-02-30"), "schedule.start_date:"),
    ("start-date-us-format", changed(schedule__start_date="01/02/2026"), "schedule.start_date:"),
    ("notification-email", changed(slack_config__notification_type="email"), "slack_config.notification_type: Input should be 'none', 'channel' or 'dm' (got 'email')"),
    ("channel-without-channel", changed(slack_config={"notification_type": "channel"}), "slack_config: notification_type 'channel' needs slack_channel"),
    ("dm-without-user", changed(slack_config={"notification_type": "dm"}), "slack_config: notification_type 'dm' needs slack_user_id"),
    ("analysis-mode", changed(analysis__mode="slow"), "analysis.mode: Input should be 'quick' or 'deep' (got 'slow')"),
    ("analysis-audience", changed(analysis__audience="board"), "analysis.audience: Input should be 'analyst' or 'general' (got 'board')"),
    ("send-if-empty", changed(send_if={}), "send_if: give min_rows, or metric + op + value"),
    ("send-if-negative-rows", changed(send_if={"min_rows": -1}), "send_if.min_rows: Input should be greater than or equal to 0"),
    ("send-if-fractional-rows", changed(send_if={"min_rows": 2.5}), "send_if.min_rows: Input should be a valid integer"),
    ("send-if-metric-alone", changed(send_if={"metric": "revenue"}), "send_if: a metric threshold needs metric, op and value together"),
    ("send-if-op", changed(send_if={"metric": "revenue", "op": "~", "value": 1}), "send_if.op: Input should be"),
    ("send-if-stat", changed(send_if={"metric": "revenue", "stat": "median", "op": ">", "value": 1}), "send_if.stat: Input should be"),
    ("send-if-value-text", changed(send_if={"metric": "revenue", "op": ">", "value": "lots"}), "send_if.value: Input should be a valid number"),
    ("compare-not-bool", changed(compare={"previous": "sometimes"}), "compare.previous: Input should be a valid boolean"),
    ("compare-unknown", changed(compare={"last_week": True}), "compare.last_week: unknown key"),
    ("anomaly-without-metric", changed(anomaly={"windows": 8}), "anomaly.metric: required field is missing"),
    ("anomaly-two-windows", changed(anomaly={"metric": "revenue", "windows": 2}), "anomaly.windows: Input should be greater than or equal to 3"),
    ("anomaly-threshold-zero", changed(anomaly={"metric": "revenue", "threshold": 0}), "anomaly.threshold: Input should be greater than 0"),
    ("target-zero", changed(targets=[{"metric": "revenue", "value": 0}]), "targets.0.value: a target value must be a finite number other than 0"),
    ("target-stat", changed(targets=[{"metric": "revenue", "stat": "median", "value": 5}]), "targets.0.stat: Input should be"),
    ("send-if-pct-without-min-abs", changed(send_if={"metric": "revenue", "change": "pct", "op": ">=", "value": 10}), "send_if: a percent change rule also needs min_abs"),
    ("send-if-min-abs-alone", changed(send_if={"metric": "revenue", "op": ">=", "value": 10, "min_abs": 5}), "send_if: min_abs applies only to a change rule"),
    ("send-if-change-kind", changed(send_if={"metric": "revenue", "change": "ratio", "op": ">=", "value": 10}), "send_if.change: Input should be 'pct' or 'abs'"),
    ("send-if-changed-false", changed(send_if={"changed": False}), "send_if: changed: true is the only setting"),
    ("send-if-anomaly-without-check", changed(send_if={"anomaly": True}), "send_if: anomaly: true needs the report's anomaly check"),
    ("send-if-fresh-duration", changed(send_if={"fresh": {"column": "day", "within": "soon"}}), "send_if.fresh.within: 'soon' is not a duration"),
    ("send-if-any-empty", changed(send_if={"any": []}), "send_if.any: List should have at least 1 item"),
    ("send-if-nested-bad", changed(send_if={"all": [{"min_rows": 1}, {"metric": "revenue", "change": "pct", "op": ">", "value": 5}]}), "send_if.all.1: a percent change rule also needs min_abs"),
    ("destination-type", changed(destinations=[{"type": "fax", "to": "123"}]), "destinations.0: type must be webhook, teams or email"),
    ("destination-secret-in-file", changed(destinations=[{"type": "webhook", "url": "https://hooks.example.com/r", "secret": "s3cr3t"}]), "destinations.0.webhook.secret: unknown key"),
    ("destination-url", changed(destinations=[{"type": "teams", "url": "ftp://teams.example.com/x"}]), "destinations.0.teams.url: url 'ftp://teams.example.com/x' must be an http:// or https:// address"),
    ("destination-email", changed(destinations=[{"type": "email", "to": ["leads at example.com"]}]), "destinations.0.email.to: 'leads at example.com' is not an email address"),
    ("destination-secret-env", changed(destinations=[{"type": "webhook", "url": "https://h.example.com", "secret_env": "my secret"}]), "destinations.0.webhook.secret_env: secret_env 'my secret' must name an environment variable"),
    # unknown keys at every level
    ("unknown-top-level", changed(owner="bob"), "owner: unknown key; remove it or check its spelling"),
    ("unknown-in-schedule", changed(schedule__every="day"), "schedule.every: unknown key"),
    ("unknown-in-slack-config", changed(slack_config__channel="#sales"), "slack_config.channel: unknown key"),
    ("unknown-in-analysis", changed(analysis__model="gemini-pro"), "analysis.model: unknown key"),
    ("unknown-in-attachments", changed(attachments={"pdf": True}), "attachments.pdf: unknown key"),
    ("unknown-in-send-if", changed(send_if={"min_rows": 1, "threshold": 3}), "send_if.threshold: unknown key"),
]  # fmt: skip


def _ids(case) -> str:
    return case.id if hasattr(case, "id") else case[0]


@pytest.mark.parametrize(("name", "content", "phrase"), BAD_FILES, ids=[_ids(c) for c in BAD_FILES])
@pytest.mark.parametrize("command", ["add", "update"])
def test_malformed_report_file_is_refused_naming_the_field(
    home, tmp_path, stored, command, name, content, phrase
):
    path = write(tmp_path, content, "report.json" if name.startswith("json") else "report.yaml")
    args = ["reports", "add", path] if command == "add" else ["reports", "update", SLUG, path]
    result = invoke(args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"report not {'added' if command == 'add' else 'updated'}" in result.output
    assert phrase in result.output, result.output
    assert store_digest(home) == stored


@pytest.mark.parametrize(
    "name", ["Regional Revenue", "regional-revenue!", "  Regional   Revenue  "],
    ids=["same-name", "same-slug", "same-name-padded"],
)
def test_a_second_report_with_a_taken_name_is_refused(home, tmp_path, stored, name):
    result = invoke(["reports", "add", write(tmp_path, changed(name=name))])
    assert result.exit_code == 2
    assert "name: " in result.output and "is already used by report #1 'Regional Revenue'" in result.output
    assert store_digest(home) == stored


def test_renaming_onto_another_reports_slug_is_refused(home, tmp_path, stored):
    ReportStore().add(ReportSpec.model_validate(changed(name="Weekly Summary")))
    before = store_digest(home)
    result = invoke(["reports", "update", "weekly_summary", write(tmp_path, changed(name="Regional Revenue"))])
    assert result.exit_code == 2 and "is already used by report #1" in result.output
    assert store_digest(home) == before


# --- CLI misuse --------------------------------------------------------------------------------


def file_arg(tmp_path: Path) -> str:
    return write(tmp_path, VALID, "valid.yaml")


NO_KEY = {"REPORT_PIPELINES_SECRET_KEY": None}
NEW_KEY = {"REPORT_PIPELINES_NEW_SECRET_KEY": None}

MISUSE = [
    # unknown slugs
    ("show-unknown", ["reports", "show", "nope"], None, None, 1, "no report 'nope'"),
    ("enable-unknown", ["reports", "enable", "nope"], None, None, 1, "no report 'nope'"),
    ("disable-unknown", ["reports", "disable", "nope"], None, None, 1, "no report 'nope'"),
    ("delete-unknown", ["reports", "delete", "nope"], None, None, 1, "no report 'nope'"),
    ("update-unknown", ["reports", "update", "nope", "{file}"], None, None, 1, "no report 'nope'"),
    ("run-unknown", ["run", "nope"], None, None, 1, "no report 'nope'"),
    ("preview-unknown", ["preview", "nope"], None, None, 1, "no report 'nope'"),
    ("backfill-unknown", ["backfill", "nope", "--from", KEY, "--to", KEY], None, None, 1, "no report 'nope'"),
    # partitions
    ("partition-date-only", ["run", SLUG, "--partition", "2026-11-25"], None, None, 2,
     "--partition '2026-11-25' must look like 2026-11-26-09:00"),
    ("partition-slashes", ["run", SLUG, "--partition", "2026/11/25-09:00"], None, None, 2, "--partition '2026/11/25-09:00' must look like"),
    ("partition-word", ["run", SLUG, "--partition", "yesterday"], None, None, 2, "--partition 'yesterday' must look like"),
    ("partition-month-13", ["run", SLUG, "--partition", "2026-13-01-09:00"], None, None, 2, "--partition '2026-13-01-09:00' must look like"),
    ("partition-off-schedule", ["run", SLUG, "--partition", "2026-11-25-09:30"], None, None, 2,
     "--partition 2026-11-25-09:30 is not a window of this report"),
    ("partition-before-start", ["run", SLUG, "--partition", "2020-01-01-09:00"], None, None, 2,
     "--partition 2020-01-01-09:00 is not a window of this report (windows run from 2026-01-01-09:00"),
    ("preview-partition", ["preview", SLUG, "--partition", "tomorrow"], None, None, 2, "--partition 'tomorrow' must look like"),
    ("backfill-from-after-to", ["backfill", SLUG, "--from", KEY, "--to", "2026-11-20-09:00"], None, None, 2,
     f"--from {KEY} is after --to 2026-11-20-09:00"),
    pytest.param(
        "backfill-bad-from", ["backfill", SLUG, "--from", "2026-11-20", "--to", KEY], None, None, 2,
        "--from '2026-11-20' must look like",
        id="backfill-bad-from",
    ),
    ("backfill-no-to", ["backfill", SLUG, "--from", KEY], None, None, 2, "Missing option '--to'"),
    ("hours-zero", ["next-runs", "--hours", "0"], None, None, 2, "Invalid value for '--hours': 0 is not in the range"),
    ("hours-negative", ["next-runs", "--hours", "-3"], None, None, 2, "Invalid value for '--hours'"),
    ("hours-too-many", ["next-runs", "--hours", "9000"], None, None, 2, "Invalid value for '--hours': 9000 is not in the range"),
    ("hours-word", ["next-runs", "--hours", "day"], None, None, 2, "Invalid value for '--hours': 'day' is not a valid integer"),
    # run arguments
    ("run-no-slug", ["run"], None, None, 2, "give the report's slug (report-pipelines run SLUG) or --all"),
    ("run-all-with-slug", ["run", "--all", SLUG], None, None, 2, "--all runs every enabled report's latest window; drop SLUG"),
    ("run-all-with-partition", ["run", "--all", "--partition", KEY], None, None, 2, "drop SLUG and --partition"),
    # workspaces
    ("workspace-no-token", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta"], None,
     {"SLACK_BOT_TOKEN": None}, 2, "no bot token: set SLACK_BOT_TOKEN or pipe it with --token-stdin"),
    ("workspace-empty-stdin", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta", "--token-stdin"],
     "\n", None, 2, "no bot token"),
    ("workspace-not-a-token", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta", "--token-stdin"],
     "hunter2\n", None, 2, "the Slack bot token must start with xoxb-"),
    pytest.param(
        "workspace-user-token", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta", "--token-stdin"],
        "xoxp-1234-5678-user-token\n", None, 2, "must start with xoxb-",
        id="workspace-user-token",
    ),
    ("workspace-no-key", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta", "--token-stdin"],
     "xoxb-2222-beta\n", NO_KEY, 2, "REPORT_PIPELINES_SECRET_KEY is not set"),
    ("workspace-bad-key", ["workspaces", "add", "--team-id", "T0002", "--team-name", "Beta", "--token-stdin"],
     "xoxb-2222-beta\n", {"REPORT_PIPELINES_SECRET_KEY": "short"}, 2,
     "REPORT_PIPELINES_SECRET_KEY is not a valid Fernet key"),
    ("workspace-blank-team", ["workspaces", "add", "--team-id", "  ", "--team-name", "Beta", "--token-stdin"],
     "xoxb-2222-beta\n", None, 2, "team_id and team_name must not be empty"),
    ("workspace-no-team-id", ["workspaces", "add", "--team-name", "Beta"], None, None, 2, "Missing option '--team-id'"),
    ("rotate-bad-key", ["workspaces", "rotate-key", "--new-key-stdin"], "not-a-key\n", None, 2,
     "the new key is not a valid Fernet key"),
    ("rotate-no-key", ["workspaces", "rotate-key"], None, NEW_KEY, 2,
     "no new key: set REPORT_PIPELINES_NEW_SECRET_KEY or pipe it with --new-key-stdin"),
    ("rotate-without-current-key", ["workspaces", "rotate-key", "--new-key-stdin"],
     "{new_key}\n", NO_KEY, 2, "REPORT_PIPELINES_SECRET_KEY is not set"),
    ("rotate-with-wrong-current-key", ["workspaces", "rotate-key", "--new-key-stdin"],
     "{new_key}\n", {"REPORT_PIPELINES_SECRET_KEY": "{other_key}"}, 2,
     "workspace T0001's token does not decrypt with the current REPORT_PIPELINES_SECRET_KEY; nothing was re-encrypted"),
    ("test-unknown-workspace", ["workspaces", "test", "T9999"], None, None, 1, "no Slack workspace T9999"),
    ("deactivate-unknown-workspace", ["workspaces", "deactivate", "T9999"], None, None, 1, "no Slack workspace T9999"),
    # files and commands
    ("add-no-file", ["reports", "add"], None, None, 2, "Missing argument 'FILE'"),
    ("add-missing-file", ["reports", "add", "{tmp}/absent.yaml"], None, None, 2, "cannot read {tmp}/absent.yaml: No such file"),
    ("add-directory", ["reports", "add", "{tmp}"], None, None, 2, "cannot read {tmp}: Is a directory"),
    ("unknown-command", ["reprots", "list"], None, None, 2, "No such command 'reprots'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "args", "stdin", "env", "code", "phrase"), MISUSE, ids=[_ids(c) for c in MISUSE]
)
def test_cli_misuse_fails_naming_the_argument(
    home, tmp_path, stored, monkeypatch, name, args, stdin, env, code, phrase
):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")  # backfill: no webserver
    values = {
        "file": file_arg(tmp_path), "tmp": str(tmp_path),
        "new_key": Fernet.generate_key().decode(), "other_key": Fernet.generate_key().decode(),
    }
    args = [arg.format(**values) for arg in args]
    stdin = stdin.format(**values) if stdin else stdin
    env = {k: (v.format(**values) if v else v) for k, v in (env or {}).items()}
    result = invoke(args, input=stdin, env=env)
    assert result.exit_code == code, (result.output, result.exception)
    assert phrase.format(**values) in result.output, result.output
    assert store_digest(home) == stored
