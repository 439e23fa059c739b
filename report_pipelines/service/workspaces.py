"""Slack workspaces: adding a bot token, testing it against what the reports need."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from report_pipelines.models import Report, ReportValidationError
from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError
from report_pipelines.slack.scopes import APP_TOKEN_ENV, SIGNING_SECRET_ENV, required_scopes
from report_pipelines.store import AuditLog, ReportStore, Workspace, WorkspaceStore, cli_actor


@dataclass(frozen=True)
class WorkspaceTest:
    team_id: str
    ok: bool
    team: str | None = None
    bot_user_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    needed: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class WorkspaceTokenRefused(ReportValidationError):
    """The bot token does not answer auth.test, or belongs to another team than the one given."""


def add_workspace(team_id: str, team_name: str, token: str, *, actor: str | None = None) -> Workspace:
    """Add or replace a workspace, once auth.test shows the token is valid and belongs to
    ``team_id``: replacing a team's token with another team's bot would send every report of
    that team to the other bot."""
    team_id, token = team_id.strip(), token.strip()
    WorkspaceStore.check_new(team_id, team_name, token)
    try:
        info = SlackDelivery(token=token, team_id=team_id).auth_test()
    except SlackDeliveryError as err:
        raise WorkspaceTokenRefused(f"bot_token: Slack refused the token on auth.test ({err}); nothing was stored") from None
    if info.get("team_id") != team_id:
        raise WorkspaceTokenRefused(
            f"bot_token: the token belongs to team {info.get('team_id')}, not {team_id}; nothing was stored"
        )
    store = WorkspaceStore()
    existed = any(workspace.team_id == team_id for workspace in store.list())
    workspace = store.add(team_id, team_name.strip(), token)
    AuditLog().record(actor or cli_actor(), "workspace.replaced" if existed else "workspace.added",
                      team_id=team_id, team_name=workspace.team_name)
    return workspace


def list_workspaces() -> list[Workspace]:
    return WorkspaceStore().list()


def check_workspace(team_id: str, name_of: Callable[[Report], str] = lambda report: report.slug) -> WorkspaceTest:
    """auth.test with the stored token, and its granted scopes against what the reports posting
    into the workspace need. ``name_of`` names a report in the reasons (the API hides other
    users' reports). A missing workspace raises ``WorkspaceNotFound``."""
    workspaces = WorkspaceStore()
    workspaces.get(team_id)
    try:
        info = SlackDelivery(token=workspaces.token(team_id), team_id=team_id).auth_test()
    except SlackDeliveryError as err:
        return WorkspaceTest(team_id=team_id, ok=False, error=str(err))
    granted = sorted(info.get("scopes") or [])
    only = len(workspaces.list(active_only=True)) == 1
    interactive = any(os.environ.get(name, "").strip() for name in (SIGNING_SECRET_ENV, APP_TOKEN_ENV))
    needed = required_scopes(ReportStore().list(), team_id, only, name_of=name_of, interactive=interactive)
    missing = {scope: why for scope, why in needed.items() if scope not in granted}
    return WorkspaceTest(
        team_id=team_id, ok=not missing, team=info.get("team"), bot_user_id=info.get("user_id"),
        scopes=granted, needed=needed, missing=missing,
        error="missing scopes: add them under OAuth & Permissions and reinstall the app" if missing else None,
    )  # fmt: skip


def deactivate_workspace(team_id: str, *, actor: str | None = None) -> None:
    WorkspaceStore().set_active(team_id, False)
    AuditLog().record(actor or cli_actor(), "workspace.deactivated", team_id=team_id)


def rotate_key(new_key: str) -> int:
    return WorkspaceStore().rotate_key(new_key.strip())
