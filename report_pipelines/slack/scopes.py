"""Which OAuth scopes a workspace's bot token needs for the reports that post into it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from report_pipelines.models import Report


def required_scopes(
    reports: Iterable[Report],
    team_id: str,
    only_workspace: bool,
    name_of: Callable[[Report], str] = lambda report: report.slug,
) -> dict[str, str]:
    """Scope -> why, for the reports that post into ``team_id``.

    A report without a ``team_id`` posts into the only active workspace. ``name_of`` says how a
    report is named in the reasons (the API hides other users' reports behind a generic name)."""
    needed = {"chat:write": "posting reports"}
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
