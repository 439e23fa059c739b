"""The audit log (who did what and when), reassigning reports, and owners who left Slack."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from report_pipelines.api.app import create_app
from report_pipelines.api.auth import mint_token
from report_pipelines.cli import main
from report_pipelines.maintenance import retention_job
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines.store import AuditLog, ReportStore
from report_pipelines.store.audit import audit_log
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-4444-audit-token"
SECRET = "audit-test-secret-that-is-long-enough-for-hs256"
KEY = "2026-11-25-09:00"


def cli(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def audit_entries(*args) -> list[dict]:
    done = cli("audit", "--json", *args)
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.output.splitlines()]


@pytest.fixture
def slack(home, secret_key, monkeypatch):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
        yield fake


def test_every_change_run_and_delivery_is_in_the_audit_log(slack, tmp_path):
    assert cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme").exit_code == 0
    assert cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme Inc").exit_code == 0
    assert cli("reports", "add", str(REPORTS / "valid.yaml")).exit_code == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text((REPORTS / "valid.yaml").read_text().replace(
        "Revenue by region for the window", "Revenue by region").replace('time: "09:00"', 'time: "09:00", enabled: true'))
    assert cli("reports", "update", "regional_revenue", str(changed)).exit_code == 0
    assert cli("reports", "disable", "regional_revenue").exit_code == 0
    assert cli("reports", "enable", "regional_revenue").exit_code == 0
    ran = cli("run", "regional_revenue", "--partition", KEY)
    assert ran.exit_code == 0, ran.output
    assert cli("reports", "reassign", "regional_revenue", "--to", "bob").exit_code == 0
    assert cli("reports", "delete", "regional_revenue").exit_code == 0

    entries = list(reversed(audit_entries()))
    actions = [entry["action"] for entry in entries]
    # The CLI follows its run to the end, so the run's delivery may be logged before the launch.
    assert actions[:6] + sorted(actions[6:8]) + actions[8:] == [
        "workspace.added", "workspace.replaced", "report.created", "report.changed", "report.disabled",
        "report.enabled", "delivery", "report.run", "report.reassigned", "report.deleted",
    ]
    by_action = {entry["action"]: entry for entry in entries}
    assert all(entry["actor"].startswith("cli") for entry in entries if entry["action"] != "delivery")
    assert by_action["report.changed"]["details"]["fields"] == ["description"]
    run = by_action["report.run"]["details"]
    assert run["window"] == KEY and run["trigger"] == "cli"
    delivery = by_action["delivery"]
    assert delivery["actor"] == f"run:{run['run_id']}" and delivery["report"] == "regional_revenue"
    assert delivery["details"]["channel"] == "C0SALES" and delivery["details"]["ts"] == slack.posts[0]["ts"]
    assert delivery["details"]["destination"] == "T0001/channel/C0SALES" and delivery["details"]["window"] == KEY
    assert by_action["report.reassigned"]["details"]["previous_owner"] == "alice"
    assert by_action["report.reassigned"]["owner"] == "bob"
    # The table view and the per-report filter.
    assert "report.reassigned" in cli("audit").output
    missing = cli("audit", "--report", "nope")
    assert missing.exit_code == 1 and "no report" in missing.output
    # Never a token in the log.
    assert TOKEN not in json.dumps(entries)


def test_the_api_audit_shows_admins_everything_and_users_their_reports(home, secret_key, monkeypatch):
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", SECRET)
    alice = {"Authorization": f"Bearer {mint_token('alice', secret=SECRET)}"}
    bob = {"Authorization": f"Bearer {mint_token('bob', secret=SECRET)}"}
    admin = {"Authorization": f"Bearer {mint_token('root', secret=SECRET, role='admin')}"}
    body = json.loads(json.dumps(__import__("yaml").safe_load((REPORTS / "valid.yaml").read_text())))
    body.pop("user_id")
    with TestClient(create_app()) as client:
        mine = client.post("/api/scheduling/reports", json=body, headers=alice).json()
        bobs = client.post("/api/scheduling/reports", json={**body, "name": "Bob Revenue"}, headers=bob).json()
        assert client.post(f"/api/scheduling/reports/{bobs['id']}/disable", headers=bob).status_code == 200
        # Only an admin reassigns.
        assert client.post(f"/api/scheduling/reports/{mine['id']}/reassign", json={"to": "carol"},
                           headers=alice).status_code == 403
        moved = client.post(f"/api/scheduling/reports/{mine['id']}/reassign", json={"to": "carol"}, headers=admin)
        assert moved.status_code == 200 and moved.json()["user_id"] == "carol"

        everything = client.get("/api/audit", headers=admin).json()
        assert [(e["actor"], e["action"], e["report"]) for e in reversed(everything)] == [
            ("alice", "report.created", "regional_revenue"), ("bob", "report.created", "bob_revenue"),
            ("bob", "report.disabled", "bob_revenue"), ("root", "report.reassigned", "regional_revenue"),
        ]
        bobs_view = client.get("/api/audit", headers=bob).json()
        assert {entry["report"] for entry in bobs_view} == {"bob_revenue"}
        assert client.get(f"/api/audit?report={mine['id']}", headers=bob).status_code == 404
        one = client.get(f"/api/audit?report={bobs['id']}", headers=admin).json()
        assert [entry["action"] for entry in one] == ["report.disabled", "report.created"]
        assert client.get("/api/audit").status_code == 401


def test_retention_prunes_audit_entries_older_than_audit_retention_days(home, monkeypatch):
    log = AuditLog()
    log.record("alice", "report.created")
    log.record("alice", "report.deleted")
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    with log.db.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.action == "report.created").values(at=old))
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "30")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = retention_job.execute_in_process(instance=instance)
    assert result.success
    assert [entry.action for entry in log.entries()] == ["report.deleted"]
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "soon")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        failed = retention_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success and len(log.entries()) == 1


def test_health_lists_reports_whose_owner_left_slack_until_reassigned(slack, tmp_path):
    slack.add_user("U0GONE", email="gone@example.com", deleted=True)
    assert cli("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme").exit_code == 0
    for name, owner in (("Kept", "alice@example.com"), ("Orphan", "gone@example.com"), ("Api User", "dave")):
        path = tmp_path / f"{name}.yaml"
        path.write_text((REPORTS / "valid.yaml").read_text().replace("Regional Revenue", name)
                        .replace("user_id: alice", f"user_id: {owner}"))
        assert cli("reports", "add", str(path)).exit_code == 0, name
    report = json.loads(cli("health", "--json").output)
    owners = next(check for check in report["checks"] if check["component"] == "owners")
    assert owners["ok"] is False and "orphan (gone@example.com)" in owners["detail"]
    assert "kept" not in owners["detail"] and "reports reassign" in owners["detail"]
    assert cli("reports", "reassign", "orphan", "--to", "alice@example.com").exit_code == 0
    again = json.loads(cli("health", "--json").output)
    owners = next(check for check in again["checks"] if check["component"] == "owners")
    assert owners["ok"] is True
    assert ReportStore().get("orphan").user_id == "alice@example.com"
