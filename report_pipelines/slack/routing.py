"""Which workspace a report posts into, and the ledger's name for where it goes.

Pure decisions shared by delivery (the ``post_to_slack`` op) and the service (which asks "was
this window delivered?" before launching a run).
"""

from __future__ import annotations

from collections.abc import Sequence

from report_pipelines.models import SlackConfig
from report_pipelines.slack.delivery import SlackDeliveryError


def workspace_for(slug: str, config: SlackConfig, active: Sequence[str]) -> str | None:
    """The team id the report posts into: its ``team_id``, else the only active workspace.

    None when no workspace is active (the message goes to the preview folder)."""
    if not active:
        return None
    known = ", ".join(active)
    if config.team_id:
        if config.team_id not in active:
            raise SlackDeliveryError(
                "workspace_not_found",
                f"report {slug} targets Slack workspace {config.team_id}, which is not an active "
                f"workspace (active: {known}); fix slack_config.team_id or add the workspace",
            )
        return config.team_id
    if len(active) > 1:
        raise SlackDeliveryError(
            "workspace_ambiguous",
            f"report {slug} has no slack_config.team_id and several workspaces are "
            f"active ({known}); set team_id in the report",
        )
    return active[0]


def destination_key(team_id: str, config: SlackConfig, resolved: str) -> str:
    """The delivery ledger's name for a Slack destination, on what Slack resolved it to:
    ``T0123/channel/C0123ABCD`` or ``T0123/dm/U0123ABCD``. ``#sales``, ``#Sales`` and
    ``C0123ABCD`` are one destination, so re-spelling it never posts a window twice."""
    return f"{team_id}/{config.notification_type}/{resolved}"


def legacy_destination_key(team_id: str, config: SlackConfig) -> str:
    """The name earlier releases gave a destination: as configured (``T0123/channel/#sales``)."""
    return f"{team_id}/{config.notification_type}/{config.destination}"
