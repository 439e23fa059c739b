"""Reports, stores and Slack workspaces the measurements share.

Imported only inside worker processes: it pulls in report_pipelines.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from report_pipelines.models import ReportSpec
from report_pipelines.store import WorkspaceStore

TIMEZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Tokyo")
START_DATE = "2026-01-01"
CHANNEL_ID = "C0REPORTS"
CHANNEL_NAME = "sales-reports"
TEAM_ID = "T0001"
BOT_TOKEN = "xoxb-0000-benchmark-token"
SALES_QUERY = """SELECT region, product, SUM(units) AS units, SUM(revenue) AS revenue
FROM sales
WHERE order_date >= @window_start_date AND order_date < @window_end_date
GROUP BY region, product
ORDER BY revenue DESC"""


@dataclass(frozen=True)
class Cadence:
    """A benchmark report's daily schedule, in a form both sides of a comparison build from:
    bare Dagster gets exactly the cron and timezone our definitions derive."""

    hour: int
    minute: int
    timezone: str

    @property
    def time(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def cron(self) -> str:
        return f"{self.minute} {self.hour} * * *"


def cadence(index: int) -> Cadence:
    # Spread over hours, minutes and zones so no two jobs share a partitions definition, as in a
    # real table of reports.
    return Cadence(hour=index % 24, minute=(index * 7) % 60, timezone=TIMEZONES[index % len(TIMEZONES)])


def bare_shapes(count: int) -> list[dict]:
    """The name, cron, timezone and first window of reports 0 .. count-1, for bare Dagster jobs
    (see :mod:`benchmarks.bare`)."""
    return [
        {"name": f"bare_benchmark_report_{index:05d}", "cron": cadence(index).cron,
         "timezone": cadence(index).timezone, "start": f"{START_DATE}-00:00"}
        for index in range(count)
    ]


def report_spec(index: int, *, schedule: Cadence | None = None, channel: bool = True) -> ReportSpec:
    when = schedule or cadence(index)
    return ReportSpec.model_validate(
        {
            "name": f"Benchmark Report {index:05d}",
            "description": "Sales by region and product for the window",
            "query": SALES_QUERY,
            "schedule": {
                "frequency": "daily", "time": when.time, "timezone": when.timezone,
                "enabled": True, "start_date": START_DATE,
            },
            "user_id": "benchmark",
            "slack_config": (
                {"notification_type": "channel", "slack_channel": f"#{CHANNEL_NAME}"}
                if channel else {"notification_type": "none"}
            ),
            "analysis": {"mode": "quick", "audience": "analyst"},
        }
    )


def fill_store(store, count: int) -> float:
    """Add reports 0 .. count-1 to ``store`` in one transaction; the seconds it took.

    The rows are shaped by the store's own mapping from a report file to columns, so they are
    exactly what ``ReportStore.add`` would write (each file is validated the same way), without
    a uniqueness query and a commit per report: 10,000 reports take seconds, not minutes.
    """
    from report_pipelines.store.reports import _row_values, scheduled_reports

    started = time.perf_counter()
    store.create_tables()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    values = [
        {**_row_values(report_spec(index)), "created_at": now, "updated_at": now}
        for index in range(count)
    ]
    if values:
        with store.engine.begin() as conn:
            conn.execute(scheduled_reports.insert(), values)
    return time.perf_counter() - started


def partition_key(index: int, day: dt.date) -> str:
    """The key of the window of report ``index`` (see :func:`cadence`) that starts on ``day``."""
    return f"{day:%Y-%m-%d}-{cadence(index).time}"


def use_home(home: str | Path) -> Path:
    """Point the report store, warehouse and Dagster instance of this process at ``home``."""
    os.environ["DAGSTER_HOME"] = str(home)
    return Path(home)


def build_warehouse(home: Path) -> Path:
    from report_pipelines.demo.data import build_demo_warehouse

    path = home / "demo_warehouse.duckdb"
    build_demo_warehouse(path)
    return path


def fake_slack():
    """A started local Slack with the reports' channel; the caller stops it."""
    from report_pipelines_tests.fakes.slack_api import FakeSlack

    slack = FakeSlack(tokens={BOT_TOKEN: TEAM_ID}).start()
    slack.add_channel(CHANNEL_ID, CHANNEL_NAME)
    return slack


def connect_workspace(store, slack_url: str) -> None:
    """Make reports post to ``slack_url``: a Fernet key, the URL, and the workspace's token."""
    from cryptography.fernet import Fernet

    os.environ.setdefault("REPORT_PIPELINES_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["SLACK_API_URL"] = slack_url
    WorkspaceStore().add(TEAM_ID, "Benchmarks", BOT_TOKEN)
