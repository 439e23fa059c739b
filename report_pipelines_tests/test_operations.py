"""Operations: table sync sensor, retention, health, failure notices, conditional sends, backfills."""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from report_pipelines.analysts.types import Analysis, ColumnMetrics
from report_pipelines.cli import main
from report_pipelines.conditions import ConditionError, evaluate_send_if
from report_pipelines.definitions import build_repository, shared_resources
from report_pipelines.maintenance import build_health_job, prune_runs, run_health_checks
from report_pipelines.models import ReportSpec, SendIf
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines.sensors import build_report_table_sensor, report_failure_notifier
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack
from decimal import Decimal

TOKEN = "xoxb-4444-ops-token"
KEY = "2026-11-25-09:00"


def spec(**changes):
    report = load_report_text((REPORTS / "valid.yaml").read_text())
    return ReportSpec.model_validate({**report.model_dump(), **changes})


@pytest.fixture
def store(home):
    store = ReportStore()
    store.add(spec())
    return store


@pytest.fixture
def slack(home, secret_key, monkeypatch, store):
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as fake:
        fake.add_channel("C0OPS", "ops")
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        WorkspaceStore().add("T0001", "Acme", TOKEN)
        yield fake


def evaluate(sensor, instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def test_table_sensor_requests_one_reload_per_change(store, instance):
    sensor = build_report_table_sensor(store.job_shaping_rows())
    result, cursor = evaluate(sensor, instance)
    assert not result.run_requests and "match" in result.skip_message

    store.add(spec(name="Second Report"))
    result, cursor = evaluate(sensor, instance)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_config["ops"]["reload_code_location"]["config"]["reset_schedules"] == []
    again, _ = evaluate(sensor, instance, cursor)
    assert not again.run_requests  # already requested for this table state

    store.set_enabled("regional_revenue", False)
    result, _ = evaluate(sensor, instance, cursor)
    assert result.run_requests[0].run_config["ops"]["reload_code_location"]["config"] == {
        "reset_schedules": ["regional_revenue"]
    }


def test_table_sensor_ignores_fields_read_at_run_time(store, instance):
    sensor = build_report_table_sensor(store.job_shaping_rows())
    store.update("regional_revenue", spec(query="SELECT 2", slack_config={"notification_type": "none"}))
    result, _ = evaluate(sensor, instance)
    assert not result.run_requests


def backdate(instance, run_id: str, days: int) -> None:
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=days)
    with instance.run_storage.connect() as conn:
        conn.execute(sa.text("UPDATE runs SET create_timestamp = :t WHERE run_id = :r"), {"t": when, "r": run_id})


def test_retention_deletes_old_runs_and_their_folders(store, instance, home, monkeypatch):
    job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
    runs = [job.execute_in_process(instance=instance, partition_key=key).run_id
            for key in ("2026-11-23-09:00", "2026-11-24-09:00", KEY)]
    backdate(instance, runs[0], 45)
    backdate(instance, runs[1], 31)
    for run_id in runs:
        assert (home / "storage" / run_id).exists()
    sensor = build_report_table_sensor(store.job_shaping_rows())
    store.add(spec(name="Added Later"))
    first, cursor = evaluate(sensor, instance)
    assert len(first.run_requests) == 1

    monkeypatch.setenv("RETENTION_DAYS", "30")
    result = build_repository(store.job_shaping_rows()).get_job("retention").execute_in_process(instance=instance)
    assert result.success
    output = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT)
    assert output.event_specific_data.metadata["runs_deleted"].value == 2
    assert instance.get_run_by_id(runs[0]) is None and instance.get_run_by_id(runs[1]) is None
    assert list(instance.all_logs(runs[0])) == []
    assert not (home / "storage" / runs[0]).exists() and not (home / "storage" / runs[1]).exists()
    assert instance.get_run_by_id(runs[2]) is not None and (home / "storage" / runs[2]).exists()
    # Its encrypted step results are short-lived: gone once older than their 24 h.
    from report_pipelines.maintenance import purge_expired_results

    assert (home / "storage" / runs[2] / "report_results").exists()
    assert purge_expired_results(24, now=time.time() + 25 * 3600) == 1
    assert not (home / "storage" / runs[2] / "report_results").exists()
    # Deleted runs do not make the sync sensor fire again: it keeps its own cursor.
    again, _ = evaluate(sensor, instance, cursor)
    assert not again.run_requests


def test_retention_deletes_table_states_no_one_uses(store, instance, monkeypatch):
    from report_pipelines.store.definition_states import DefinitionStateNotFound, DefinitionStates, definition_states

    states = DefinitionStates()
    old = states.save({"rows": store.job_shaping_rows(), "broken": {}})
    store.add(spec(name="Added Later"))
    current = states.save({"rows": store.job_shaping_rows(), "broken": {}})
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    with states.db.begin() as conn:
        conn.execute(definition_states.update().where(definition_states.c.state_id == old).values(last_used_at=long_ago))
    monkeypatch.setenv("RETENTION_DAYS", "30")
    result = build_repository([]).get_job("retention").execute_in_process(instance=instance)
    output = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT)
    assert output.event_specific_data.metadata["definition_states_deleted"].value == 1
    assert [row["slug"] for row in states.load(current)["rows"]][-1] == "added_later"
    with pytest.raises(DefinitionStateNotFound, match="no longer stored"):
        states.load(old)


def test_retention_days_must_be_sane(store, instance, monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "soon")
    result = build_repository([]).get_job("retention").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "RETENTION_DAYS='soon'" in failure.step_failure_data.user_failure_data.description


def test_health_reports_every_component(store, slack, instance):
    resources = shared_resources()
    results = {r.component: r for r in run_health_checks(instance, warehouse=resources["warehouse"], analyst=resources["analyst"])}
    assert results["report_store"].ok and results["dagster_storage"].ok and results["warehouse"].ok
    assert results["slack:T0001"].ok and "auth.test ok" in results["slack:T0001"].detail
    assert not results["dagster_daemon"].ok and "dagster-daemon" in results["dagster_daemon"].detail

    slack.revoke(TOKEN)
    job = build_health_job(resources)
    outcome = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not outcome.success
    failure = next(e for e in outcome.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "slack:T0001" in failure.step_failure_data.user_failure_data.description

    cli = CliRunner().invoke(main, ["health", "--json"])
    assert cli.exit_code == 1
    checks = {c["component"]: c for c in json.loads(cli.output)["checks"]}
    assert set(checks) >= {"report_store", "dagster_storage", "dagster_daemon", "warehouse", "slack:T0001"}
    assert checks["slack:T0001"]["ok"] is False and TOKEN not in cli.output


def failed_run_context(store, instance):
    job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
    result = job.execute_in_process(instance=instance, partition_key=KEY, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.PIPELINE_FAILURE)
    return dg.build_run_status_sensor_context(
        sensor_name="report_failure_notifier", dagster_event=event, dagster_instance=instance, dagster_run=run,
    ).for_run_failure()


@pytest.mark.parametrize(("owner", "expect"), [("U0ALICE", "dm"), ("alice@example.com", "dm"), ("alice", "ops")])
def test_failing_report_notifies_its_owner(store, slack, instance, monkeypatch, owner, expect):
    store.update("regional_revenue", spec(user_id=owner, query="SELECT * FROM missing_table"))
    monkeypatch.setenv("REPORT_PIPELINES_OPS_CHANNEL", "#ops")
    report_failure_notifier(failed_run_context(store, instance))
    notices = [p for p in slack.posts if "failed for window" in p["text"]]
    assert len(notices) == 1
    notice = notices[0]
    assert notice["channel"].startswith("D") if expect == "dm" else notice["channel"] == "C0OPS"
    body = json.dumps(notice["blocks"])
    assert "regional_revenue" in body and KEY in body and "missing_table" in body and "/runs/" in body


def test_failure_notice_without_workspace_goes_to_the_preview_folder(store, instance, home):
    store.update("regional_revenue", spec(query="SELECT * FROM missing_table"))
    report_failure_notifier(failed_run_context(store, instance))
    notices = list((home / "previews" / "_notices" / "regional_revenue").glob("*.json"))
    assert len(notices) == 1 and "missing_table" in notices[0].read_text()


def analysis_with(total) -> Analysis:
    return Analysis(
        analyst="statistical", row_count=3, truncated=False, summary="s",
        metrics=[ColumnMetrics("revenue", 3, total, None, Decimal("1"), Decimal("9"))],
    )


@pytest.mark.parametrize(
    ("send_if", "total", "send"),
    [
        ({"min_rows": 3}, Decimal("5"), True),
        ({"min_rows": 4}, Decimal("5"), False),
        ({"metric": "revenue", "op": ">", "value": 5}, Decimal("5.00"), False),
        ({"metric": "revenue", "op": ">=", "value": 5}, Decimal("5.00"), True),
        ({"metric": "revenue", "op": "<", "value": 0.1}, Decimal("0.09"), True),
        ({"metric": "revenue", "stat": "max", "op": "==", "value": 9}, Decimal("0"), True),
    ],
)
def test_send_if_table(send_if, total, send):
    assert evaluate_send_if(SendIf(**send_if), analysis_with(total))[0] is send


def test_send_if_unknown_metric_names_it():
    with pytest.raises(ConditionError, match="send_if.metric 'profit'.*revenue"):
        evaluate_send_if(SendIf(metric="profit", op=">", value=1), analysis_with(Decimal("1")))


def test_conditional_send_skips_visibly(store, slack, instance):
    store.update("regional_revenue", spec(send_if={"metric": "revenue", "op": ">", "value": 10**9}))
    job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
    result = job.execute_in_process(instance=instance, partition_key=KEY)
    assert result.success and slack.posts == []
    assert instance.get_run_by_id(result.run_id).tags["report_pipelines/delivery"] == "skipped"
    output = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "post_to_slack")
    assert "nothing sent" in output.event_specific_data.metadata["detail"].value

    store.update("regional_revenue", spec(send_if={"min_rows": 1}))
    assert job.execute_in_process(instance=instance, partition_key="2026-11-24-09:00").success
    assert len(slack.posts) == 1


def test_backfill_without_webserver_runs_each_window(store, slack, instance, monkeypatch):
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["backfill", "regional_revenue", "--from", "2026-11-20-09:00", "--to", "2026-11-22-09:00"])
    assert result.exit_code == 0, result.output
    assert "3 of 3 windows succeeded" in result.output
    windows = sorted(json.dumps(p["blocks"]).split("\\ud83d\\uddd3 ")[1][:16] for p in slack.posts)
    assert windows == ["2026-11-20 09:00", "2026-11-21 09:00", "2026-11-22 09:00"]
    again = CliRunner().invoke(main, ["backfill", "regional_revenue", "--from", "2026-11-21-09:00", "--to", "2026-11-21-09:00"])
    assert again.exit_code == 0 and len(slack.posts) == 3
    everything = CliRunner().invoke(main, ["run", "--all"])
    assert everything.exit_code == 0 and "1 of 1 reports succeeded" in everything.output
