"""Reports as code: `apply` plans and applies a folder of report files in one transaction,
`export` writes files that `apply` takes back unchanged, and file-made reports are edited in
their files, not through the CLI or the API."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from report_pipelines.api.app import create_app
from report_pipelines.api.auth import mint_token
from report_pipelines.cli import main
from report_pipelines.store import AuditLog, ReportStore
from report_pipelines_tests.conftest import REPORTS

DEMO = Path(str(resources.files("report_pipelines") / "demo" / "reports"))
SLUGS = ("daily_sales_report", "monthly_product_performance", "weekly_regional_revenue")


def cli(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture
def folder(home, tmp_path) -> Path:
    """A copy of the demo's report folder, as a team would keep it in git."""
    target = tmp_path / "reports"
    shutil.copytree(DEMO, target)
    return target


def rows(home) -> list:
    return [(r.slug, r.updated_at, r.source) for r in ReportStore().list()] if (home / "report_store.sqlite").exists() else []


def test_dry_run_plans_and_changes_nothing_then_apply_creates_and_again_changes_nothing(home, folder):
    planned = cli("apply", str(folder), "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert [line for line in planned.output.splitlines() if line[:1] in "+~-="] == [f"+ create {s}" for s in SLUGS]
    assert ReportStore().list() == []
    assert cli("apply", str(folder), "--dry-run", "--exit-code").exit_code == 1

    applied = cli("apply", str(folder))
    assert applied.exit_code == 0 and "applied: 3 created, 0 updated, 0 deleted" in applied.output
    stored = {r.slug: r for r in ReportStore().list()}
    assert set(stored) == set(SLUGS)
    assert stored["weekly_regional_revenue"].source == f"file:{(folder / 'weekly_regional.yaml').as_posix()}"
    assert stored["weekly_regional_revenue"].compare.previous  # every field of the file, as written
    before = rows(home)

    again = cli("apply", str(folder))
    assert again.exit_code == 0
    assert [line for line in again.output.splitlines() if line[:1] in "+~-="] == [f"= unchanged {s}" for s in SLUGS]
    assert rows(home) == before
    assert cli("apply", str(folder), "--dry-run", "--exit-code").exit_code == 0
    actions = [(e.action, e.actor.split(":")[0]) for e in AuditLog().entries()]
    assert actions.count(("report.created", "apply")) == 3 and len(actions) == 3


def test_changes_are_planned_by_field_and_prune_deletes_only_file_made_reports(home, folder):
    assert cli("apply", str(folder)).exit_code == 0
    assert cli("reports", "add", str(REPORTS / "valid.yaml")).exit_code == 0  # made with the CLI
    weekly = folder / "weekly_regional.yaml"
    data = yaml.safe_load(weekly.read_text())
    data["description"] = "Revenue per region, for the leads."
    data["schedule"]["time"] = "07:30"
    weekly.write_text(yaml.safe_dump(data))
    (folder / "monthly_products.yaml").unlink()

    planned = cli("apply", str(folder))
    assert "~ update weekly_regional_revenue (description, schedule)" in planned.output
    assert "- delete" not in planned.output
    assert ReportStore().get("weekly_regional_revenue").schedule.time == "07:30"
    pruned = cli("apply", str(folder), "--prune")
    assert pruned.output.count("- delete") == 1 and "- delete monthly_product_performance" in pruned.output
    assert sorted(r.slug for r in ReportStore().list()) == ["daily_sales_report", "regional_revenue", "weekly_regional_revenue"]


def test_one_bad_file_applies_nothing(home, folder):
    (folder / "broken.yaml").write_text(yaml.safe_dump({**yaml.safe_load((REPORTS / "valid.yaml").read_text()),
                                                         "schedule": {"frequency": "hourly"}}))
    (folder / "copy.yaml").write_text((folder / "daily_sales.yaml").read_text())
    result = cli("apply", str(folder))
    assert result.exit_code == 2
    assert "broken.yaml" in result.output and "schedule.frequency" in result.output
    assert "daily_sales.yaml: the report daily_sales_report is also defined in" in result.output
    assert ReportStore().list() == []


def test_export_then_apply_is_an_empty_plan(home, folder, tmp_path):
    assert cli("apply", str(folder)).exit_code == 0
    assert cli("reports", "add", str(REPORTS / "valid.yaml")).exit_code == 0
    exported = tmp_path / "exported"
    assert cli("export", str(exported)).exit_code == 0
    assert sorted(p.name for p in exported.iterdir()) == sorted(f"{s}.yaml" for s in (*SLUGS, "regional_revenue"))
    result = cli("apply", str(exported), "--dry-run", "--exit-code")
    assert result.exit_code == 0, result.output
    assert all(line.startswith("= unchanged") for line in result.output.splitlines() if line[:1] in "+~-=")


def test_a_file_made_report_is_changed_in_its_file(home, folder, monkeypatch, tmp_path):
    assert cli("apply", str(folder)).exit_code == 0
    other = tmp_path / "other.yaml"
    data = yaml.safe_load(cli("reports", "show", "daily_sales_report", "--yaml").output)
    data["schedule"]["time"] = "10:00"
    other.write_text(yaml.safe_dump(data))
    refused = cli("reports", "update", "daily_sales_report", str(other))
    assert refused.exit_code == 2 and "comes from" in refused.output and "daily_sales.yaml" in refused.output
    assert cli("reports", "disable", "daily_sales_report").exit_code == 2

    secret = "apply-tests-secret-0123456789abcdef0123"
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", secret)
    with TestClient(create_app()) as client:
        demo = {"Authorization": f"Bearer {mint_token('demo', secret=secret)}"}
        admin = {"Authorization": f"Bearer {mint_token('root', secret=secret, role='admin')}"}
        url = "/api/scheduling/reports/daily_sales_report"
        body = yaml.safe_load(other.read_text())
        answer = client.put(url, json=body, headers=demo)
        assert answer.status_code == 409 and "change that file and run `report-pipelines apply`" in answer.json()["detail"]
        assert client.delete(url, headers=demo).status_code == 409
        assert client.post(f"{url}/detach", headers=demo).status_code == 403
        detached = client.post(f"{url}/detach", headers=admin)
        assert detached.status_code == 200 and detached.json()["source"] is None
        assert client.put(url, json=body, headers=demo).status_code == 200
    assert ReportStore().get("daily_sales_report").schedule.time == "10:00"
