"""`report-pipelines demo` serves the Dagster UI with one job and one schedule per demo report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from report_pipelines_tests.dagster_dev import free_port, partition_status, stop_process_group


class Server:
    def __init__(self, url: str):
        self.url = url

CLI = str(Path(sys.executable).parent / "report-pipelines")
QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    jobs { name }
    schedules { name cronSchedule executionTimezone scheduleState { status } }
} } } }
"""


@pytest.mark.integration
def test_demo_serves_jobs_and_running_schedules(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REPORT_STORE_URL", "WAREHOUSE_URL")}
    log = open(tmp_path / "demo.log", "w")
    # A new session so the whole tree (dagster dev, webserver, daemon, code server) gets SIGINT.
    process = subprocess.Popen(
        [CLI, "demo", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        nodes = None
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                answer = requests.post(f"{base}/graphql", json={"query": QUERY}, timeout=10).json()
                nodes = answer["data"]["repositoriesOrError"].get("nodes")
                if nodes and nodes[0]["jobs"]:
                    break
            except (requests.RequestException, KeyError, TypeError, ValueError):
                pass
            time.sleep(2)
        assert nodes, (tmp_path / "demo.log").read_text()[-3000:]
        repo = nodes[0]
        assert repo["location"]["name"] == "report_pipelines"
        report_jobs = sorted(job["name"] for job in repo["jobs"] if job["name"].startswith("report_"))
        assert report_jobs == [
            "report_daily_sales_report",
            "report_monthly_product_performance",
            "report_weekly_regional_revenue",
        ]
        schedules = {s["name"]: s for s in repo["schedules"] if s["name"].startswith("report_")}
        assert set(schedules) == {f"{job}_schedule" for job in report_jobs}
        assert {s["scheduleState"]["status"] for s in schedules.values()} == {"RUNNING"}
        assert schedules["report_monthly_product_performance_schedule"]["executionTimezone"] == "America/New_York"
        output = (tmp_path / "demo.log").read_text()
        assert "rendered message: " in output
        # The quickstart starts without Dagster warning that a dagster.yaml will not be used.
        assert "will not be used" not in output and "WARNING" not in output.split("serving the Dagster UI")[0]
        # The demo's own run (launched before the webserver was up) counts in the Partitions tab.
        window = re.search(r"ran daily_sales_report for window (\S+): run ", output).group(1)
        assert partition_status(Server(base), "report_daily_sales_report", window) == "SUCCESS"
    finally:
        stop_process_group(process)
        log.close()
