"""Which OAuth scopes a workspace's bot token needs for the reports that post into it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from report_pipelines.models import Report

# Set where the API server verifies Slack's requests (Interactivity and Events), and where
# `slack-listen` connects in Socket Mode.
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
APP_TOKEN_ENV = "SLACK_APP_TOKEN"


def required_scopes(
    reports: Iterable[Report],
    team_id: str,
    only_workspace: bool,
    name_of: Callable[[Report], str] = lambda report: report.slug,
    interactive: bool = False,
) -> dict[str, str]:
    """Scope -> why, for the reports that post into ``team_id``.

    A report without a ``team_id`` posts into the only active workspace. ``name_of`` says how a
    report is named in the reasons (the API hides other users' reports behind a generic name).
    ``interactive`` (Slack requests are handled: SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set)
    adds what the buttons and thread questions need: Snooze maps the presser to the report's
    owner with users.info and their email; questions arrive as message and app_mention events."""
    needed = {"chat:write": "posting reports"}
    if interactive:
        needed["users:read"] = "finding who pressed Snooze (interactivity)"
        needed["users:read.email"] = "matching who pressed Snooze to the report's owner by email (interactivity)"
        needed["channels:history"] = "receiving questions asked in report threads (message events)"
        needed["app_mentions:read"] = "receiving @mentions in report threads (app_mention events)"
    for report in reports:
        config = report.slack_config
        if config.notification_type == "none":
            continue
        if config.team_id != team_id and not (config.team_id is None and only_workspace):
            continue
        name = name_of(report)
        if config.notification_type == "channel" and not (config.slack_channel or "").startswith(("C", "G")):
            needed["channels:read"] = f"resolving channel names ({name})"
        if config.notification_type == "dm":
            needed["im:write"] = f"opening DMs ({name})"
            if "@" in (config.slack_user_id or ""):
                needed["users:read.email"] = f"finding users by email ({name})"
        if report.attachments.chart or report.attachments.csv:
            needed["files:write"] = f"uploading charts and CSVs ({name})"
    return needed
