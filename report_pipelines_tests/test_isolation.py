"""One bad report never takes the rest down: what cannot be built is refused when written, and a
row that still cannot be built (an older release's, or one written by hand in SQL) is skipped by
the code location and shown everywhere a user looks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from report_pipelines import definitions as definitions_module
from report_pipelines.api.app import create_app
from report_pipelines.api.auth import mint_token
from report_pipelines.cli import main
from report_pipelines.sensors import BrokenReports
from report_pipelines.store import ReportStore

ROOT = Path(__file__).parents[1]
BROKEN = "weekly_regional_revenue"
FILE = """name: Minute Counts
query: SELECT COUNT(*) AS n FROM sales
user_id: demo
schedule: {cron: "* * * * *", timezone: UTC, start_date: "%s"}
"""


def break_by_hand(store: ReportStore, slug: str = BROKEN) -> None:
    """What an older release or a hand-written UPDATE can leave behind."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE scheduled_reports SET start_date = '0001-01-02' WHERE slug = :slug"), {"slug": slug})


def table_snapshot(store: ReportStore) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("SELECT * FROM scheduled_reports ORDER BY id"))]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("0001-01-02", "start_date 0001-01-02 is before 1970-01-01"),
        ("2020-01-01", "more than 100,000 windows"),  # every minute for years
    ],
)
def test_reports_that_cannot_be_built_are_refused(demo_store, tmp_path, start, message):
    before = table_snapshot(demo_store)
    path = tmp_path / "minute.yaml"
    path.write_text(FILE % start)
    result = CliRunner().invoke(main, ["reports", "add", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "schedule" in result.output
    assert table_snapshot(demo_store) == before


def test_a_recent_start_on_a_minute_cron_is_accepted(demo_store, tmp_path):
    path = tmp_path / "minute.yaml"
    path.write_text(FILE % "2026-11-01")
    result = CliRunner().invoke(main, ["reports", "add", str(path)])
    assert result.exit_code == 0, result.output


def load_code_location():
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType

    context = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION, repository_load_data=None)
    with DefinitionsLoadContext.scoped(context):
        return definitions_module.defs()


def test_a_broken_row_is_skipped_and_the_sensor_tick_names_it(demo_store, instance):
    break_by_hand(demo_store)
    repo = load_code_location()
    assert {"report_daily_sales_report", "report_monthly_product_performance"} <= set(repo.job_names)
    assert f"report_{BROKEN}" not in repo.job_names
    assert not repo.has_schedule_def(f"report_{BROKEN}_schedule")

    sensor = repo.get_sensor_def("report_table_sensor")
    with pytest.raises(BrokenReports, match=BROKEN) as raised:
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=repo))
    assert "start_date 0001-01-02 is before 1970-01-01" in str(raised.value)

    # Once repaired in the table, the next tick asks for a reload instead of failing.
    with demo_store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE scheduled_reports SET start_date = '2025-06-01' WHERE slug = :s"), {"s": BROKEN})
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=repo))
    assert len(result.run_requests) == 1


def test_dagster_loads_the_location_with_a_broken_row(demo_store):
    break_by_hand(demo_store)
    result = subprocess.run(
        [Path(sys.executable).parent / "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_lists_health_and_repair(demo_store, instance, tmp_path):
    break_by_hand(demo_store)
    runner = CliRunner()
    listed = runner.invoke(main, ["reports", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith(BROKEN))
    assert "BROKEN" in line
    assert "daily_sales_report" in listed.output
    as_json = {r["slug"]: r for r in json.loads(runner.invoke(main, ["reports", "list", "--json"]).stdout)}
    assert "start_date" in as_json[BROKEN]["build_error"] and "build_error" not in as_json["daily_sales_report"]

    health = runner.invoke(main, ["health", "--json"])
    checks = {c["component"]: c for c in json.loads(health.stdout)["checks"]}
    assert checks["reports"]["ok"] is False and BROKEN in checks["reports"]["detail"]

    shown = runner.invoke(main, ["reports", "show", BROKEN])
    assert shown.exit_code == 1 and "is broken" in shown.output and "reports update" in shown.output

    path = tmp_path / "fixed.yaml"
    path.write_text(
        'name: Weekly Regional Revenue\nquery: SELECT 1 AS x\nuser_id: demo\n'
        'schedule: {frequency: weekly, time: "08:30", timezone: Europe/London, start_date: "2025-06-01"}\n'
    )
    repaired = runner.invoke(main, ["reports", "update", BROKEN, str(path)])
    assert repaired.exit_code == 0, repaired.output
    assert demo_store.list_broken() == []
    assert f"report_{BROKEN}" in load_code_location().job_names


def test_api_returns_the_broken_report_with_its_error(demo_store, secret_key, monkeypatch):
    secret = "s" * 40
    monkeypatch.setenv("REPORT_PIPELINES_JWT_SECRET", secret)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
    break_by_hand(demo_store)
    report_id = demo_store.get_any(BROKEN).id
    headers = {"Authorization": f"Bearer {mint_token('demo', secret=secret)}"}
    with TestClient(create_app()) as client:
        listed = client.get("/api/scheduling/reports", headers=headers)
        assert listed.status_code == 200
        by_slug = {r["slug"]: r for r in listed.json()}
        assert set(by_slug) == {"daily_sales_report", "monthly_product_performance", BROKEN}
        assert "start_date 0001-01-02" in by_slug[BROKEN]["build_error"]
        one = client.get(f"/api/scheduling/reports/{report_id}", headers=headers)
        assert one.status_code == 409 and "start_date" in one.json()["build_error"]
        # Someone else does not see it at all.
        other = {"Authorization": f"Bearer {mint_token('mallory', secret=secret)}"}
        assert client.get("/api/scheduling/reports", headers=other).json() == []
        assert client.delete(f"/api/scheduling/reports/{report_id}", headers=headers).status_code == 200
    assert demo_store.list_broken() == []
