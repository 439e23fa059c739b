"""Dagster resources that are not a warehouse or an analyst: the report store, the per-job report
spec, Slack delivery, and the in-memory IO manager that keeps results off disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from report_pipelines.models import Report
from report_pipelines.report_store import ReportStore, default_home, store_url
from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError, write_preview


class ReportStoreResource(dg.ConfigurableResource):
    """The report table, opened from REPORT_STORE_URL (or the SQLite file in DAGSTER_HOME).

    The URL is read where the run executes and never enters config, so a password in a
    PostgreSQL URL stays out of the UI.

    Example::

        defs = dg.Definitions(resources={"report_store": ReportStoreResource()})
    """

    def get_store(self) -> ReportStore:
        return ReportStore(store_url())


class ReportResource(dg.ConfigurableResource):
    """Which report a job runs. Bound per job, so launches need no run config.

    Only the id and slug are fixed at load: SQL, prompt and destination are re-read by id when the
    run starts, so editing them takes effect without reloading the code location.
    """

    report_id: int = Field(description="Primary key of the report in scheduled_reports.")
    slug: str = Field(description="The report's slug; Dagster names derive from it.")


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: posted, previewed or not sent (and why)."""

    status: str  # "posted" | "preview" | "not_sent"
    detail: str
    channel: str | None = None
    ts: str | None = None
    team_id: str | None = None
    preview_path: str | None = None


def preview_folder() -> Path:
    return default_home() / "previews"


class SlackResource(dg.ConfigurableResource):
    """Posts report messages with the workspace's stored bot token, or previews them.

    With no active Slack workspace in the report store, messages are written as JSON to
    ``DAGSTER_HOME/previews/<slug>/`` instead: the demo works with zero credentials.

    Example::

        defs = dg.Definitions(resources={"slack": SlackResource()})
    """

    api_url: str | None = Field(
        default=None,
        description="Slack Web API base URL; unset reads SLACK_API_URL at run time, else Slack's.",
    )
    timeout_seconds: int = Field(default=30, description="HTTP timeout of one Slack API call.")

    def _workspace_for(self, store: ReportStore, report: Report) -> str | None:
        active = store.workspaces(active_only=True)
        wanted = report.slack_config.team_id
        if not active:
            return None
        if wanted:
            if wanted not in {w.team_id for w in active}:
                known = ", ".join(w.team_id for w in active)
                raise SlackDeliveryError(
                    "workspace_not_found",
                    f"report {report.slug} targets Slack workspace {wanted}, which is not an active "
                    f"workspace (active: {known}); fix slack_config.team_id or add the workspace",
                )
            return wanted
        if len(active) > 1:
            known = ", ".join(w.team_id for w in active)
            raise SlackDeliveryError(
                "workspace_ambiguous",
                f"report {report.slug} has no slack_config.team_id and several workspaces are "
                f"active ({known}); set team_id in the report",
            )
        return active[0].team_id

    def deliver(
        self, store: ReportStore, report: Report, partition_key: str, blocks: list, text: str
    ) -> Delivery:
        config = report.slack_config
        if config.notification_type == "none":
            return Delivery("not_sent", "notification_type is none: the report is not posted")
        team_id = self._workspace_for(store, report)
        if team_id is None:
            path = write_preview(
                preview_folder(), report.slug, partition_key,
                {"destination": config.destination, "text": text, "blocks": blocks},
            )
            return Delivery(
                "preview",
                f"no Slack workspace configured: message written to {path}",
                preview_path=str(path),
            )
        client = SlackDelivery(
            token=store.workspace_token(team_id),
            team_id=team_id,
            base_url=self.api_url or os.environ.get("SLACK_API_URL") or None,
            timeout=self.timeout_seconds,
        )
        if config.notification_type == "dm":
            channel = client.open_dm(config.slack_user_id or "")
        else:
            channel = client.resolve_channel(config.slack_channel or "")
        posted = client.post_message(channel, blocks, text)
        return Delivery(
            "posted",
            f"posted to {config.destination} ({posted.channel}) in {team_id}",
            channel=posted.channel,
            ts=posted.ts,
            team_id=team_id,
        )


class InMemoryResultsIOManager(dg.InMemoryIOManager):
    """Keeps op outputs in memory so query results and analysis never land on disk.

    A re-execution of only the later steps would need the parent run's outputs, which are gone
    with its process: it fails with a message saying to re-execute all steps instead.
    """

    def load_input(self, context: dg.InputContext):
        try:
            return super().load_input(context)
        except KeyError as err:
            raise dg.Failure(
                description=(
                    "report results are kept in memory only, so a partial re-execution cannot reuse "
                    "the earlier run's outputs; re-execute all steps (\"Re-execute all\")"
                )
            ) from err


@dg.io_manager(description="In-memory outputs: report data never reaches the run storage folder.")
def in_memory_results_io_manager(_) -> InMemoryResultsIOManager:
    return InMemoryResultsIOManager()
