"""Every Dagster name for a report comes from its slug, here and only here; and where the
instance and the webserver are.

Schedule on/off state is stored by name, so these must never change for an existing report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
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
# A question asked in a report message's thread (its run is not a report run: other tags).
QUESTION_JOB = "thread_question"
TAG_QUESTION = "report_pipelines/question"
TAG_QUESTION_REPORT_ID = "report_pipelines/question_report_id"
TAG_QUESTION_WINDOW = "report_pipelines/question_window"
TAG_QUESTION_CHANNEL = "report_pipelines/question_channel"
TAG_QUESTION_THREAD = "report_pipelines/question_thread_ts"
TAG_QUESTION_KEY = "report_pipelines/question_key"
PARTITION_TAG = "dagster/partition"
PARTITION_SET_TAG = "dagster/partition_set"
RETRY_STRATEGY_TAG = "dagster/retry_strategy"
# Op pools of the warehouse, analyst and Slack steps (limits in the instance's `concurrency`).
POOL_WAREHOUSE = "report_pipelines_warehouse"
POOL_ANALYST = "report_pipelines_analyst"
POOL_SLACK = "report_pipelines_slack"
POOLS = (POOL_WAREHOUSE, POOL_ANALYST, POOL_SLACK)


SHARD_ENV = "REPORT_PIPELINES_SHARD"
_SHARD_LOCATION = re.compile(rf"{CODE_LOCATION}_shard_(\d+)_of_(\d+)")


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` of ``count``: the reports whose id modulo ``count`` is ``index``.

    The slice depends only on the report's id, which never changes, so a report stays in its
    shard for as long as the number of shards stays the same.
    """

    index: int
    count: int

    @property
    def location_name(self) -> str:
        return f"{CODE_LOCATION}_shard_{self.index}_of_{self.count}"

    def holds(self, report_id: int) -> bool:
        return report_id % self.count == self.index


def current_shard() -> Shard | None:
    """``REPORT_PIPELINES_SHARD=i/K`` (set on a code server), else None: one location holds all."""
    raw = os.environ.get(SHARD_ENV, "").strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", raw)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ValueError(f"{SHARD_ENV}={raw!r} must be i/K with 0 <= i < K, e.g. 0/4")
    return Shard(int(match.group(1)), int(match.group(2)))


def current_location_name() -> str:
    shard = current_shard()
    return shard.location_name if shard else CODE_LOCATION


def is_report_location(name: str) -> bool:
    """One of ours: the single location, or one of its shards."""
    return name == CODE_LOCATION or _SHARD_LOCATION.fullmatch(name) is not None


def location_for_report(report_id: int, location_names: list[str]) -> str:
    """The location that holds the report among those a workspace serves (sharded or not)."""
    if CODE_LOCATION in location_names:
        return CODE_LOCATION
    for name in location_names:
        match = _SHARD_LOCATION.fullmatch(name)
        if match and Shard(int(match.group(1)), int(match.group(2))).holds(report_id):
            return name
    return CODE_LOCATION  # not served: the launch then says the job is not loaded


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
    # A run retry starts again from the query: it may run on another worker, which does not hold
    # the earlier steps' results; the delivery ledger keeps a second post step from posting twice.
    return {TAG_REPORT: slug, TAG_REPORT_ID: str(report_id), TAG_OWNER: owner, RETRY_STRATEGY_TAG: "ALL_STEPS"}
