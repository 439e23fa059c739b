"""Every Dagster name for a report comes from its slug, here and only here; and where the
instance and the webserver are.

Schedule on/off state is stored by name, so these must never change for an existing report.
"""

from __future__ import annotations

import os
from pathlib import Path

CODE_LOCATION = "report_pipelines"
# The repository name Dagster gives a code location built with @dg.definitions.
REPOSITORY_NAME = "__repository__"
TAG_REPORT = "report_pipelines/report"
TAG_REPORT_ID = "report_pipelines/report_id"
TAG_OWNER = "report_pipelines/owner"
TAG_SLACK_CHANNEL = "report_pipelines/slack_channel"
TAG_SLACK_TS = "report_pipelines/slack_ts"
TAG_DELIVERY = "report_pipelines/delivery"
TAG_FORCE = "report_pipelines/force"
TAG_TRIGGER = "report_pipelines/trigger"
PARTITION_TAG = "dagster/partition"
PARTITION_SET_TAG = "dagster/partition_set"


def default_home() -> Path:
    """DAGSTER_HOME, default ./.dagster_home: the instance, and the local store and previews."""
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")


def webserver_url() -> str:
    """The Dagster webserver serving this code location (reloads, backfills, run links)."""
    return os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000").rstrip("/")


def job_name(slug: str) -> str:
    return f"report_{slug}"


def schedule_name(slug: str) -> str:
    return f"report_{slug}_schedule"


def partition_tags(slug: str, partition_key: str) -> dict[str, str]:
    """The tags Dagster gives a run of one window; the UI's Partitions tab counts runs by them."""
    return {PARTITION_TAG: partition_key, PARTITION_SET_TAG: f"{job_name(slug)}_partition_set"}


def run_tags(report_id: int, slug: str, owner: str) -> dict[str, str]:
    # TAG_REPORT doubles as the concurrency key in dagster.yaml: one run per report at a time.
    return {TAG_REPORT: slug, TAG_REPORT_ID: str(report_id), TAG_OWNER: owner}
