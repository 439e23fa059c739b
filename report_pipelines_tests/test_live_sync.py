"""Against `dagster dev`: the report table, the UI and Slack stay in step without restarts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.dagster_dev import Dev, partition_status
from report_pipelines_tests.fakes.slack_api import FakeSlack

BIN = Path(sys.executable).parent
TOKEN = "xoxb-5555-live-token"
STOP_SCHEDULE = """
mutation Stop($id: String!) { stopRunningSchedule(id: $id) { __typename } }
"""
SCHEDULE_ID = """
query S($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) {
  ... on Schedule { scheduleState { id status } } } }
"""


def cli(env, *args, timeout=300):
    return subprocess.run([str(BIN / "report-pipelines"), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.integration
def test_live_sync_backfill_once_and_failure_notice(home, secret_key, tmp_path):
    shutil.copy(Path(__file__).parents[1] / "workspace.yaml", home / "workspace.yaml")
    clear_channel_cache()
    with FakeSlack(tokens={TOKEN: "T0001"}) as slack:
        env = {**os.environ, "SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": TOKEN}
        assert cli(env, "workspaces", "add", "--team-id", "T0001", "--team-name", "Acme").returncode == 0
        dev = Dev(home, env, tmp_path / "dev.log")
        env = dev.env
        try:
            dev.wait_for(lambda: any(j["name"] == "health" for j in dev.repo()["jobs"]), "the code location", 180)

            # 1. A report added with the CLI gets its job and schedule without a restart.
            report = yaml.safe_load((REPORTS / "valid.yaml").read_text())
            path = tmp_path / "report.yaml"
            path.write_text(yaml.safe_dump(report))
            assert cli(env, "reports", "add", str(path)).returncode == 0
            seconds = dev.wait_for(
                lambda: "report_regional_revenue" in {j["name"] for j in dev.repo()["jobs"]}
                and "report_regional_revenue_schedule" in {s["name"] for s in dev.repo()["schedules"]},
                "the new report's job and schedule",
            )
            print(f"new report visible after {seconds:.1f} s")

            # 2. A three-window backfill through the webserver posts three messages, one per window.
            backfill = cli(env, "backfill", "regional_revenue", "--from", "2026-11-20-09:00", "--to", "2026-11-22-09:00", "--timeout", "240")
            assert backfill.returncode == 0, backfill.stdout + backfill.stderr
            assert "submitted" in backfill.stdout and "3 of 3 windows succeeded" in backfill.stdout
            windows = sorted(p["text"].split(" — ")[1][:16] for p in slack.posts)
            assert windows == ["2026-11-20 09:00", "2026-11-21 09:00", "2026-11-22 09:00"]

            # One run per report at a time: the backfill's three runs never overlapped.
            import dagster as dg

            with dg.DagsterInstance.from_config(str(home)) as instance:
                records = instance.get_run_records(dg.RunsFilter(job_name="report_regional_revenue"))
                spans = sorted((r.start_time, r.end_time) for r in records)
            assert len(spans) == 3
            assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans

            # `dagster job backfill` works the same: one run and one message per window.
            dagster_cli = subprocess.run(
                [sys.executable, "-m", "dagster", "job", "backfill", "-w", str(home / "workspace.yaml"),
                 "-j", "report_regional_revenue", "--partitions", "2026-11-18-09:00,2026-11-19-09:00",
                 "--noprompt"],
                env=env, capture_output=True, text=True, timeout=180,
            )
            assert dagster_cli.returncode == 0, dagster_cli.stdout + dagster_cli.stderr
            dev.wait_for(lambda: len(slack.posts) == 5, "two more messages from `dagster job backfill`", 180)
            windows = sorted(p["text"].split(" — ")[1][:16] for p in slack.posts)
            assert windows == ["2026-11-18 09:00", "2026-11-19 09:00", "2026-11-20 09:00",
                               "2026-11-21 09:00", "2026-11-22 09:00"]

            # 3. Launching a delivered window again posts nothing new.
            again = cli(env, "backfill", "regional_revenue", "--from", "2026-11-21-09:00", "--to", "2026-11-21-09:00", "--timeout", "240")
            assert again.returncode == 0, again.stdout + again.stderr
            assert len(slack.calls_to("chat.postMessage")) == 5

            # `report-pipelines run` with the webserver up queues a run of the loaded code location:
            # the daemon runs it, and the job's Partitions tab counts it.
            ran = cli(env, "run", "regional_revenue", "--partition", "2026-11-17-09:00")
            assert ran.returncode == 0 and "succeeded" in ran.stdout, ran.stdout + ran.stderr
            assert len(slack.calls_to("chat.postMessage")) == 6
            for key in ("2026-11-17-09:00", "2026-11-18-09:00", "2026-11-20-09:00"):
                assert partition_status(dev, "report_regional_revenue", key) == "SUCCESS", key
            assert partition_status(dev, "report_regional_revenue", "2026-11-16-09:00") is None
            assert "already delivered" in cli(env, "run", "regional_revenue", "--partition", "2026-11-17-09:00").stdout

            # 4. A schedule stopped in the UI drops out of next-runs.
            selector = {"repositoryLocationName": "report_pipelines", "repositoryName": "__repository__",
                        "scheduleName": "report_regional_revenue_schedule"}
            state = dev.graphql(SCHEDULE_ID, {"selector": selector})["scheduleOrError"]["scheduleState"]
            assert state["status"] == "RUNNING"
            dev.graphql(STOP_SCHEDULE, {"id": state["id"]})
            upcoming = json.loads(cli(env, "next-runs", "--hours", "48", "--json").stdout)
            assert "regional_revenue" not in {r["slug"] for r in upcoming}

            # 5. Enabling/disabling in the table resets the schedule to the table's word, over the
            #    UI's earlier stop.
            def schedule_status():
                return next(s["scheduleState"]["status"] for s in dev.repo()["schedules"]
                            if s["name"] == "report_regional_revenue_schedule")

            reloads = dev.reload_runs()
            assert cli(env, "reports", "disable", "regional_revenue").returncode == 0
            dev.wait_for(lambda: dev.reload_runs() > reloads, "the reload after disabling", 90)
            assert schedule_status() == "STOPPED"
            assert cli(env, "reports", "enable", "regional_revenue").returncode == 0
            dev.wait_for(lambda: schedule_status() == "RUNNING", "the re-enabled schedule running", 90)
            assert cli(env, "reports", "disable", "regional_revenue").returncode == 0
            dev.wait_for(lambda: schedule_status() == "STOPPED", "the disabled schedule stopped", 90)

            # 6. A failing report tells its owner, by DM.
            broken = dict(report, name="Broken Report", user_id="U0ALICE", query="SELECT * FROM missing_table")
            path.write_text(yaml.safe_dump(broken))
            assert cli(env, "reports", "add", str(path)).returncode == 0
            dev.wait_for(lambda: "report_broken_report" in {j["name"] for j in dev.repo()["jobs"]}, "the broken report's job")
            failed = cli(env, "backfill", "broken_report", "--from", "2026-11-22-09:00", "--to", "2026-11-22-09:00", "--timeout", "240")
            assert failed.returncode == 1
            dev.wait_for(lambda: any("Broken Report" in p["text"] or "broken_report" in p["text"] for p in slack.posts
                                     if p["channel"].startswith("D")), "the owner's failure DM", 90)

            # 7. Deleting a report removes its job and schedule.
            assert cli(env, "reports", "delete", "regional_revenue").returncode == 0
            dev.wait_for(
                lambda: "report_regional_revenue" not in {j["name"] for j in dev.repo()["jobs"]}
                and "report_regional_revenue_schedule" not in {s["name"] for s in dev.repo()["schedules"]},
                "the deleted report's job and schedule gone",
            )
        finally:
            dev.stop()
