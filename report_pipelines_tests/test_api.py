"""The REST API through FastAPI's TestClient: every endpoint, auth, and isolation between users."""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
import sqlite3

import jwt
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from report_pipelines.api.app import MAX_BODY_BYTES, create_app
from report_pipelines.api.auth import mint_token
from report_pipelines.cli import main
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines_tests.test_bad_input import BAD_FILES

SECRET = secrets.token_urlsafe(32)
REPORTS = "/api/scheduling/reports"
# The original system's curl example, byte for byte apart from the name.
ORIGINAL_EXAMPLE = {
    "name": "Daily Sales Report",
    "description": "Daily sales performance analysis",
    "query": "SELECT * FROM sales WHERE date >= CURRENT_DATE - INTERVAL 1 DAY",
    "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC", "enabled": True},
    "user_id": "your-user-id",
    "slack_config": {"notification_type": "channel", "slack_channel": "#sales-reports"},
}
REGIONAL = {
    "name": "Regional Revenue",
    "description": "Revenue by region for the window",
    "query": "SELECT region, SUM(units) AS units, SUM(revenue) AS revenue FROM sales "
             "WHERE order_date >= @window_start_date AND order_date < @window_end_date "
             "GROUP BY region ORDER BY region",
    "schedule": {"frequency": "daily", "time": "09:00", "timezone": "Europe/London", "start_date": "2026-01-01"},
    "slack_config": {"notification_type": "channel", "slack_channel": "#sales"},
}


def auth(user: str, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user, secret=SECRET, **kwargs)}"}


ALICE, BOB = auth("alice"), auth("bob")
ADMIN = auth("root", role="admin")


@pytest.fixture
def client(home, secret_key, monkeypatch):
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", SECRET)
    # Nothing listens on port 9: launching runs has no webserver unless a test starts one.
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
    with TestClient(create_app()) as client:
        yield client


def store_rows(home) -> list[tuple]:
    path = home / "report_store.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'scheduled_reports'").fetchone():
            return []
        return conn.execute("SELECT * FROM scheduled_reports ORDER BY id").fetchall()


def create(client, body=REGIONAL, headers=ALICE) -> dict:
    response = client.post(REPORTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# --- auth -------------------------------------------------------------------------------------

def run_window(slug: str, key: str):
    """`report-pipelines run` (no webserver here: the run is launched from the instance)."""
    return CliRunner().invoke(main, ["run", slug, "--partition", key])


def forged(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


NOW = dt.datetime.now(dt.timezone.utc)
BAD_CREDENTIALS = {
    "none": {},
    "empty bearer": {"Authorization": "Bearer "},
    "basic scheme": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    "not a jwt": {"Authorization": "Bearer not.a.jwt"},
    "other secret": forged({"sub": "alice", "exp": NOW + dt.timedelta(hours=1)}, key=secrets.token_urlsafe(32)),
    "expired": forged({"sub": "alice", "exp": NOW - dt.timedelta(seconds=5)}),
    "no exp": forged({"sub": "alice"}),
    "no sub": forged({"exp": NOW + dt.timedelta(hours=1)}),
    "blank sub": forged({"sub": " ", "exp": NOW + dt.timedelta(hours=1)}),
    "alg none": {"Authorization": "Bearer " + jwt.encode({"sub": "alice", "exp": NOW + dt.timedelta(hours=1)},
                                                        None, algorithm="none")},
    "HS512": forged({"sub": "alice", "exp": NOW + dt.timedelta(hours=1)}, algorithm="HS512"),
}


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
def test_bad_tokens_get_the_same_401_everywhere(client, home, kind):
    create(client)
    before = store_rows(home)
    routes = [(method.upper(), path.replace("{report_id}", "regional_revenue").replace("{team_id}", "T0001"))
              for path, item in client.get("/openapi.json").json()["paths"].items() for method in item
              # Slack's endpoints take no bearer token: their signature check is tested on its own.
              if not path.startswith("/slack/")]
    assert len(routes) == 17
    for method, path in routes:
        response = client.request(method, path, headers=BAD_CREDENTIALS[kind], json=REGIONAL)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json() == {"detail": "not authenticated"}
        assert response.headers["www-authenticate"] == "Bearer"
    assert store_rows(home) == before


def test_token_command_mints_a_token_the_api_accepts(home, monkeypatch):
    monkeypatch.delenv("REPORT_PIPELINES_JWT_SECRET", raising=False)
    missing = CliRunner().invoke(main, ["token", "--user", "alice"])
    assert missing.exit_code == 2 and "REPORT_PIPELINES_JWT_SECRET is not set" in missing.output
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", "short")
    short = CliRunner().invoke(main, ["token", "--user", "alice"])
    assert short.exit_code == 2 and "at least 32" in short.output

    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", SECRET)
    minted = CliRunner().invoke(main, ["token", "--user", "alice", "--hours", "2"])
    assert minted.exit_code == 0
    token = minted.output.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert 2 * 3600 - 60 < claims["exp"] - dt.datetime.now(dt.timezone.utc).timestamp() <= 2 * 3600
    with TestClient(create_app()) as client:
        assert client.get(REPORTS, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_api_command_refuses_to_start_without_a_secret(home, monkeypatch):
    monkeypatch.delenv("REPORT_PIPELINES_JWT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["api", "--port", "8765"])
    assert result.exit_code == 2 and "REPORT_PIPELINES_JWT_SECRET is not set" in result.output


# --- reports ----------------------------------------------------------------------------------

def test_the_original_curl_payload_creates_a_report(client):
    response = client.post(REPORTS, json=ORIGINAL_EXAMPLE, headers=auth("your-user-id"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "daily_sales_report" and body["user_id"] == "your-user-id"
    assert body["job_name"] == "report_daily_sales_report" and body["cron"] == "0 9 * * *"
    assert body["dagster_url"].endswith("/locations/report_pipelines/jobs/report_daily_sales_report")
    stored = ReportStore().get("daily_sales_report")
    assert stored.query == ORIGINAL_EXAMPLE["query"] and stored.slack_config.slack_channel == "#sales-reports"


def test_user_id_defaults_to_the_token_user_and_may_not_name_another(client, home):
    assert create(client, REGIONAL, BOB)["user_id"] == "bob"
    before = store_rows(home)
    response = client.post(REPORTS, json={**REGIONAL, "name": "Other", "user_id": "alice"}, headers=BOB)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "user_id"], "msg": "must be your own user id ('bob') or left out", "type": "invalid"}
    ]
    assert store_rows(home) == before


INVALID = [
    ({"schedule": {"frequency": "daily", "time": "25:00"}}, ["body", "schedule", "time"], "HH:MM"),
    ({"schedule": {"frequency": "daily", "timezone": "Mars/Olympus"}}, ["body", "schedule", "timezone"], "IANA"),
    ({"schedule": {"frequency": "hourly"}}, ["body", "schedule", "frequency"], "daily"),
    ({"schedule": {"frequency": "monthly", "day_of_month": 31}}, ["body", "schedule", "day_of_month"], "1-28"),
    ({"slack_config": {"notification_type": "dm"}}, ["body", "slack_config"], "slack_user_id"),
    ({"query": "how did sales do last week?"}, ["body", "analysis"], "plain-language prompt"),
    ({"colour": "blue"}, ["body", "colour"], "unknown key"),
    ({"name": ""}, ["body", "name"], "at least 1"),
    ({"name": "x" * 121}, ["body", "name"], "at most 120"),
    ({"name": "Nul\x00name"}, ["body", "name"], "NUL"),
]


@pytest.mark.parametrize("change,loc,phrase", INVALID, ids=[".".join(i[1][1:]) + f"-{n}" for n, i in enumerate(INVALID)])
def test_invalid_reports_get_422_naming_the_field_and_change_nothing(client, home, change, loc, phrase):
    create(client)
    before = store_rows(home)
    body = {**copy.deepcopy(REGIONAL), "name": "Another", **change}
    for response in (client.post(REPORTS, json=body, headers=ALICE),
                     client.put(f"{REPORTS}/regional_revenue", json=body, headers=ALICE)):
        assert response.status_code == 422, response.text
        problems = response.json()["detail"]
        assert any(p["loc"] == loc and phrase in p["msg"] for p in problems), problems
    assert store_rows(home) == before


def _bad_file_case(case) -> tuple:
    return tuple(case.values) if hasattr(case, "values") else case


# The CLI's malformed report files, sent as JSON bodies: the same field named with the same words.
# (YAML-only cases do not apply; a missing user_id is allowed here, it is the token's user.)
BAD_BODIES = [
    case for case in map(_bad_file_case, BAD_FILES)
    if isinstance(case[1], dict) and case[0] != "user-id-missing"
]
RAW_JSON_BODIES = [case for case in map(_bad_file_case, BAD_FILES) if case[0].startswith("json")]


@pytest.mark.parametrize("name,content,phrase", BAD_BODIES, ids=[case[0] for case in BAD_BODIES])
def test_the_cli_malformed_reports_get_the_same_words_over_http(client, home, name, content, phrase):
    create(client, REGIONAL)
    before = store_rows(home)
    field, _, message = phrase.partition(":")
    message = message.strip()
    loc = ["body", *(int(part) if part.isdigit() else part for part in field.split("."))]
    body = content if name.startswith("name") else {**content, "name": "Another"}
    for response in (client.post(REPORTS, json=body, headers=ALICE),
                     client.put(f"{REPORTS}/regional_revenue", json=content, headers=ALICE)):
        assert response.status_code == 422, (name, response.text)
        problems = response.json()["detail"]
        assert any(p["loc"] == loc and message in p["msg"] for p in problems), (phrase, problems)
    assert store_rows(home) == before


@pytest.mark.parametrize("name,content,phrase", RAW_JSON_BODIES, ids=[case[0] for case in RAW_JSON_BODIES])
def test_bodies_that_are_not_a_json_object_are_refused(client, home, name, content, phrase):
    response = client.post(REPORTS, content=content.encode(), headers={**ALICE, "content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][0] == "body"
    assert store_rows(home) == []


def test_a_body_that_is_not_json_is_refused(client, home):
    response = client.post(REPORTS, content=b"{name: oops", headers={**ALICE, "content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["detail"][0]["msg"]
    response = client.post(REPORTS, json=["a", "list"], headers=ALICE)
    assert response.status_code == 422
    assert store_rows(home) == []


def test_names_are_unique_across_users_without_naming_the_other_report(client, home):
    create(client)
    own = client.post(REPORTS, json=REGIONAL, headers=ALICE)
    assert own.status_code == 422 and own.json()["detail"][0]["loc"] == ["body", "name"]
    before = store_rows(home)
    theirs = client.post(REPORTS, json=REGIONAL, headers=BOB)
    assert theirs.status_code == 409
    assert theirs.json() == {"detail": "name: this name is taken by another report; choose another name"}
    assert store_rows(home) == before


def test_users_see_only_their_own_reports(client):
    mine = create(client)
    theirs = create(client, {**REGIONAL, "name": "Bob Revenue"}, BOB)
    assert [r["slug"] for r in client.get(REPORTS, headers=ALICE).json()] == ["regional_revenue"]
    assert [r["slug"] for r in client.get(REPORTS, headers=BOB).json()] == ["bob_revenue"]
    for ref in (mine["id"], mine["slug"]):
        response = client.get(f"{REPORTS}/{ref}", headers=ALICE)
        assert response.status_code == 200 and response.json()["id"] == mine["id"]
    # Another user's report and a missing one answer alike: the id leaks nothing.
    for ref in (theirs["id"], theirs["slug"]):
        response = client.get(f"{REPORTS}/{ref}", headers=ALICE)
        assert response.status_code == 404 and response.json() == {"detail": f"no report {str(ref)!r} among yours"}
    for ref in ("999", "no_such_report", str(2**63), "²", "١"):
        response = client.get(f"{REPORTS}/{ref}", headers=ALICE)
        assert response.status_code == 404 and response.json() == {"detail": f"no report {ref!r} among yours"}


def test_put_replaces_only_your_own_report(client, home):
    report = create(client)
    changed = {**REGIONAL, "schedule": {**REGIONAL["schedule"], "time": "07:30"}, "description": "Earlier"}
    before = store_rows(home)
    stolen = client.put(f"{REPORTS}/{report['id']}", json=changed, headers=BOB)
    assert stolen.status_code == 404 and store_rows(home) == before
    response = client.put(f"{REPORTS}/{report['id']}", json=changed, headers=ALICE)
    assert response.status_code == 200
    assert response.json()["cron"] == "30 7 * * *" and response.json()["description"] == "Earlier"
    renamed = client.put(f"{REPORTS}/regional_revenue", json={**changed, "name": "Revenue By Region"}, headers=ALICE)
    assert renamed.status_code == 200 and renamed.json()["slug"] == "revenue_by_region"
    assert renamed.json()["id"] == report["id"]


def test_enable_disable_and_delete_only_your_own_report(client, home):
    report = create(client)
    path = f"{REPORTS}/{report['id']}"
    before = store_rows(home)
    for action in ("enable", "disable"):
        assert client.post(f"{path}/{action}", headers=BOB).status_code == 404
    assert client.delete(path, headers=BOB).status_code == 404
    assert store_rows(home) == before

    disabled = client.post(f"{path}/disable", headers=ALICE)
    assert disabled.status_code == 200 and disabled.json()["schedule"]["enabled"] is False
    assert ReportStore().get(report["id"]).schedule.enabled is False
    enabled = client.post(f"{path}/enable", headers=ALICE)
    assert enabled.json()["schedule"]["enabled"] is True

    deleted = client.delete(path, headers=ALICE)
    assert deleted.status_code == 200 and deleted.json() == {"id": report["id"], "slug": "regional_revenue", "deleted": True}
    assert client.get(path, headers=ALICE).status_code == 404
    # A new report never takes a deleted report's id (run history is tagged with it).
    assert create(client, {**REGIONAL, "name": "Fresh"})["id"] > report["id"]


def test_request_bodies_are_size_limited(client, home):
    big = {**REGIONAL, "description": "x" * MAX_BODY_BYTES}
    response = client.post(REPORTS, json=big, headers=ALICE)
    assert response.status_code == 413 and str(MAX_BODY_BYTES) in response.json()["detail"]

    def chunks():  # no Content-Length: the limit holds on the bytes actually received
        yield b'{"name": "Chunked", "description": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"y" * 1024
        yield b'"}'

    response = client.post(REPORTS, content=chunks(), headers={**ALICE, "content-type": "application/json"})
    assert response.status_code == 413
    assert store_rows(home) == []
    # Just under the limit is fine.
    fits = {**REGIONAL, "description": "x" * (MAX_BODY_BYTES - 2000)}
    assert client.post(REPORTS, json=fits, headers=ALICE).status_code == 201


def test_a_locked_store_answers_503_and_writes_nothing(client, home):
    create(client)
    before = store_rows(home)
    lock = sqlite3.connect(home / "report_store.sqlite", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post(REPORTS, json={**REGIONAL, "name": "Blocked"}, headers=ALICE)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json() == {"detail": "the report store did not answer (database is locked); retry"}
    assert store_rows(home) == before
    assert client.post(REPORTS, json={**REGIONAL, "name": "Blocked"}, headers=ALICE).status_code == 201


# --- runs -------------------------------------------------------------------------------------

def test_run_checks_the_window_and_needs_a_webserver(client):
    report = create(client)
    path = f"{REPORTS}/{report['id']}/run"
    assert client.post(path, headers=BOB).status_code == 404
    for key, phrase in (("2026-11-25", "must look like"), ("2020-01-01-09:00", "is not a window"),
                        ("2026-11-25-09:30", "is not a window")):
        response = client.post(path, json={"partition_key": key}, headers=ALICE)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "partition_key"]
        assert phrase in response.json()["detail"][0]["msg"]
    # No body at all (the original curl example) picks the latest window; with no webserver
    # serving the code location the answer says where it looked and what to start.
    response = client.post(path, headers=ALICE)
    assert response.status_code == 503
    assert "http://127.0.0.1:9" in response.json()["detail"] and "DAGSTER_WEBSERVER_URL" in response.json()["detail"]


def test_running_a_report_with_no_complete_window_says_when_the_first_one_ends(client):
    report = create(client, ORIGINAL_EXAMPLE, auth("your-user-id"))
    response = client.post(f"{REPORTS}/{report['id']}/run", headers=auth("your-user-id"))
    assert response.status_code == 422
    today = dt.datetime.now(dt.timezone.utc).date()
    message = response.json()["detail"][0]["msg"]
    assert f"its first window, {today:%Y-%m-%d}-09:00, ends at {today + dt.timedelta(days=1):%Y-%m-%d} 09:00 UTC" in message
    assert "schedule.start_date" in message


def test_run_history_comes_from_dagster_with_windows_errors_and_slack_ts(client, home, monkeypatch):
    token = "xoxb-4242-api"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        added = client.post("/api/scheduling/slack/workspace",
                            json={"team_id": "T0001", "team_name": "Acme", "bot_token": token}, headers=ADMIN)
        assert added.status_code == 201
        report = create(client)
        broken = create(client, {**REGIONAL, "name": "Broken", "query": "SELECT * FROM missing_table"})
        for key in ("2026-11-20-09:00", "2026-11-21-09:00"):
            assert run_window("regional_revenue", key).exit_code == 0
        assert run_window("broken", "2026-11-21-09:00").exit_code == 1

    runs = client.get(f"{REPORTS}/{report['id']}/runs", headers=ALICE)
    assert runs.status_code == 200
    history = runs.json()
    assert [r["partition_key"] for r in history] == ["2026-11-21-09:00", "2026-11-20-09:00"]
    posted = {p["ts"] for p in slack.posts}
    for run in history:
        assert run["status"] == "SUCCESS" and run["error"] is None and run["trigger"] == "cli"
        assert run["delivery"] == "posted" and run["slack_channel"] == "C0SALES" and run["slack_ts"] in posted
        assert run["run_url"].endswith(f"/runs/{run['run_id']}")
    assert history[0]["window_start"] == "2026-11-21T09:00:00Z"
    assert history[0]["window_end"] == "2026-11-22T09:00:00Z"
    assert client.get(f"{REPORTS}/{report['id']}/runs?limit=1", headers=ALICE).json()[0]["partition_key"] == "2026-11-21-09:00"

    failed = client.get(f"{REPORTS}/broken/runs", headers=ALICE).json()
    assert len(failed) == 1 and failed[0]["status"] == "FAILURE"
    assert "query_warehouse" in failed[0]["error"] and "missing_table" in failed[0]["error"]
    assert failed[0]["slack_ts"] is None

    assert client.get(f"{REPORTS}/{report['id']}/runs", headers=BOB).status_code == 404
    assert client.get(f"{REPORTS}/{broken['id']}/runs?limit=0", headers=ALICE).status_code == 422


def test_next_runs_lists_only_your_enabled_reports(client):
    create(client)
    create(client, {**REGIONAL, "name": "Bob Revenue"}, BOB)
    create(client, {**REGIONAL, "name": "Paused", "schedule": {**REGIONAL["schedule"], "enabled": False}})
    response = client.get("/api/scheduling/next-runs?hours=48", headers=ALICE)
    assert response.status_code == 200
    upcoming = response.json()
    assert {r["slug"] for r in upcoming} == {"regional_revenue"} and len(upcoming) == 2
    first = upcoming[0]
    assert first["local_time"][11:16] == "09:00" and first["timezone"] == "Europe/London"
    assert first["report_id"] == ReportStore().get("regional_revenue").id
    assert len(client.get("/api/scheduling/next-runs", headers=ALICE).json()) == 1
    for hours in ("0", "9000", "soon"):
        assert client.get(f"/api/scheduling/next-runs?hours={hours}", headers=ALICE).status_code == 422


def test_health_for_an_admin_runs_the_same_checks_as_the_cli(client):
    response = client.get("/api/health", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    cli = json.loads(CliRunner().invoke(main, ["health", "--json"]).output)
    assert [c["component"] for c in body["checks"]] == [c["component"] for c in cli["checks"]]
    assert body["healthy"] is cli["healthy"] is False  # no daemon runs in this test
    daemon = next(c for c in body["checks"] if c["component"] == "dagster_daemon")
    assert daemon["ok"] is False and "dagster-daemon run" in daemon["detail"]


# --- Slack workspaces -------------------------------------------------------------------------

def test_workspace_tokens_are_stored_encrypted_and_never_returned(client, home, monkeypatch):
    token = "xoxb-1234-very-secret-api"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001", "xoxb-3-secret": "T0003"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        response = client.post("/api/scheduling/slack/workspace",
                               json={"team_id": "T0001", "team_name": "Acme", "bot_token": token}, headers=ADMIN)
        assert response.status_code == 201 and token not in response.text
        assert response.json()["team_id"] == "T0001" and response.json()["healthy"] is True
        listed = client.get("/api/scheduling/slack/workspaces", headers=BOB)
        assert [w["team_name"] for w in listed.json()] == ["Acme"] and token not in listed.text
        assert token.encode() not in (home / "report_store.sqlite").read_bytes()
        assert WorkspaceStore().token("T0001") == token

        for body, loc in (({"team_id": "T0002", "team_name": "B", "bot_token": "xoxp-user-token-secret"}, "bot_token"),
                          ({"team_id": "T 0002", "team_name": "B", "bot_token": "xoxb-1-secret-b"}, "team_id"),
                          ({"team_id": "T0002", "team_name": "B", "bot_token": "xoxb-1-secret-b", "extra": 1}, "extra")):
            refused = client.post("/api/scheduling/slack/workspace", json=body, headers=ADMIN)
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", loc]
            assert body["bot_token"] not in refused.text  # never echoed back
        monkeypatch.delenv("REPORT_PIPELINES_SECRET_KEY")
        unconfigured = client.post("/api/scheduling/slack/workspace",
                                   json={"team_id": "T0003", "team_name": "C", "bot_token": "xoxb-3-secret"}, headers=ADMIN)
        assert unconfigured.status_code == 503 and "REPORT_PIPELINES_SECRET_KEY is not set" in unconfigured.text
    assert [w.team_id for w in WorkspaceStore().list()] == ["T0001"]


def test_only_an_admin_adds_a_workspace_and_only_with_that_teams_token(client, monkeypatch):
    acme, other = "xoxb-1111-acme-token", "xoxb-2222-other-team"
    clear_channel_cache()
    with FakeSlack(tokens={acme: "T0001", other: "T0666"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        assert client.post("/api/scheduling/slack/workspace", headers=ADMIN,
                           json={"team_id": "T0001", "team_name": "Acme", "bot_token": acme}).status_code == 201
        # A plain user may not add or replace a workspace, whatever the token.
        for token in (acme, other):
            refused = client.post("/api/scheduling/slack/workspace", headers=ALICE,
                                  json={"team_id": "T0001", "team_name": "Mine", "bot_token": token})
            assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        # An admin may not give a team another team's bot.
        swapped = client.post("/api/scheduling/slack/workspace", headers=ADMIN,
                              json={"team_id": "T0001", "team_name": "Acme", "bot_token": other})
        assert swapped.status_code == 422
        assert "belongs to team T0666, not T0001" in swapped.text and other not in swapped.text
        unknown = client.post("/api/scheduling/slack/workspace", headers=ADMIN,
                              json={"team_id": "T0002", "team_name": "B", "bot_token": "xoxb-9-unknown-token"})
        assert unknown.status_code == 422 and "auth.test" in unknown.text
    assert WorkspaceStore().token("T0001") == acme
    assert [w.team_name for w in WorkspaceStore().list()] == ["Acme"]


def test_a_token_with_an_unknown_role_is_refused(client):
    forged_role = {"Authorization": "Bearer " + jwt.encode(
        {"sub": "alice", "role": "superuser", "exp": NOW + dt.timedelta(hours=1)}, SECRET, algorithm="HS256")}
    assert client.get(REPORTS, headers=forged_role).status_code == 401


def test_an_admin_sees_and_manages_every_report_a_user_only_their_own(client):
    mine = create(client)
    bobs = create(client, {**REGIONAL, "name": "Bob Revenue"}, BOB)
    assert [r["slug"] for r in client.get(REPORTS, headers=ALICE).json()] == ["regional_revenue"]
    assert {r["slug"] for r in client.get(REPORTS, headers=ADMIN).json()} == {"regional_revenue", "bob_revenue"}
    assert client.get(f"{REPORTS}/{bobs['id']}", headers=ALICE).status_code == 404
    # An admin's change keeps the report's owner unless it names a new one.
    changed = client.put(f"{REPORTS}/{bobs['id']}", headers=ADMIN, json={**REGIONAL, "name": "Bob Revenue", "description": "by admin"})
    assert changed.status_code == 200 and changed.json()["user_id"] == "bob"
    assert client.post(f"{REPORTS}/{mine['id']}/disable", headers=ADMIN).json()["schedule"]["enabled"] is False
    made = client.post(REPORTS, headers=ADMIN, json={**REGIONAL, "name": "For Carol", "user_id": "carol"})
    assert made.status_code == 201 and made.json()["user_id"] == "carol"
    assert client.post(REPORTS, headers=ALICE, json={**REGIONAL, "name": "For Carol 2", "user_id": "carol"}).status_code == 422


def test_health_for_a_user_calls_nothing_outside_the_deployment(client, monkeypatch):
    from report_pipelines_tests.fakes.gemini_api import FakeGemini

    token = "xoxb-7777-health"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack, FakeGemini() as gemini:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("GOOGLE_API_KEY", "AIza-health-test")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        WorkspaceStore().add("T0001", "Acme", token)
        user = client.get("/api/health", headers=ALICE).json()
        assert {check["component"] for check in user["checks"]} <= {"report_store", "reports", "dagster_storage", "dagster_daemon"}
        assert slack.calls_to("auth.test") == [] and gemini.requests == []
        admin = client.get("/api/health", headers=ADMIN).json()
        components = {check["component"] for check in admin["checks"]}
        assert {"warehouse", "slack:T0001", "analyst"} <= components
        assert len(slack.calls_to("auth.test")) == 1


def test_next_runs_is_bounded_to_31_days(client):
    create(client)
    assert client.get("/api/scheduling/next-runs?hours=744", headers=ALICE).status_code == 200
    too_far = client.get("/api/scheduling/next-runs?hours=745", headers=ALICE)
    assert too_far.status_code == 422


def test_run_launches_are_limited_per_user(home, secret_key, monkeypatch):
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", SECRET)
    monkeypatch.setenv("REPORT_PIPELINES_RUN_LIMIT_PER_HOUR", "2")
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
    with TestClient(create_app()) as limited:
        report = create(limited)
        answers = [limited.post(f"{REPORTS}/{report['id']}/run", headers=ALICE) for _ in range(3)]
        assert answers[0].status_code != 429 and answers[1].status_code != 429
        assert answers[2].status_code == 429 and int(answers[2].headers["Retry-After"]) > 3000
        assert "2 launches per hour" in answers[2].json()["detail"]
        # Another user has a limit of their own.
        bobs = create(limited, {**REGIONAL, "name": "Bob Revenue"}, BOB)
        assert limited.post(f"{REPORTS}/{bobs['id']}/run", headers=BOB).status_code != 429


def test_slack_test_checks_the_token_and_the_scopes_reports_need(client, monkeypatch):
    token = "xoxb-5150-api-test"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}, scopes=["chat:write"]) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        client.post("/api/scheduling/slack/workspace",
                    json={"team_id": "T0001", "team_name": "Acme", "bot_token": token}, headers=ADMIN)
        create(client)  # posts to "#sales" by name: needs channels:read
        create(client, {**REGIONAL, "name": "Bob DM",
                        "slack_config": {"notification_type": "dm", "slack_user_id": "bob@example.com"}}, BOB)

        response = client.get("/api/scheduling/slack/test/T0001", headers=ALICE)
        assert response.status_code == 200 and token not in response.text
        body = response.json()
        assert body["ok"] is False and body["team"] and body["scopes"] == ["chat:write"]
        assert body["missing"] == {
            "channels:read": "resolving channel names (regional_revenue)",
            "im:write": "opening DMs (another user's report)",
            "users:read.email": "finding users by email (another user's report)",
        }
        slack.scopes = ["chat:write", "channels:read", "im:write", "users:read.email"]
        assert client.get("/api/scheduling/slack/test/T0001", headers=ALICE).json()["ok"] is True

        slack.revoke(token)
        revoked = client.get("/api/scheduling/slack/test/T0001", headers=ALICE).json()
        assert revoked["ok"] is False and "revoked" in revoked["error"]
    assert client.get("/api/scheduling/slack/test/T9999", headers=ALICE).status_code == 404


def test_openapi_schema_documents_every_endpoint_and_the_bearer_scheme(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("POST", "/api/scheduling/slack/workspace"), ("GET", "/api/scheduling/slack/workspaces"),
        ("GET", "/api/scheduling/slack/test/{team_id}"), ("POST", "/api/scheduling/reports"),
        ("GET", "/api/scheduling/reports"), ("GET", "/api/scheduling/reports/{report_id}"),
        ("PUT", "/api/scheduling/reports/{report_id}"), ("DELETE", "/api/scheduling/reports/{report_id}"),
        ("POST", "/api/scheduling/reports/{report_id}/enable"), ("POST", "/api/scheduling/reports/{report_id}/disable"),
        ("POST", "/api/scheduling/reports/{report_id}/run"), ("GET", "/api/scheduling/reports/{report_id}/runs"),
        ("GET", "/api/scheduling/next-runs"), ("GET", "/api/health"),
        ("POST", "/api/scheduling/reports/{report_id}/reassign"), ("GET", "/api/audit"),
        ("POST", "/slack/interactions"), ("POST", "/slack/events"),
        ("POST", "/api/scheduling/reports/{report_id}/detach"),
    }
