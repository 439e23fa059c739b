"""``report-pipelines workspaces ...``: Slack workspaces and their bot tokens."""

from __future__ import annotations

import json
import os
import sys

import click

from report_pipelines.cli.common import EXIT_INVALID, fail, handled, main, print_table
from report_pipelines.service import workspaces as service


@main.group()
def workspaces() -> None:
    """Slack workspaces and their bot tokens."""


@workspaces.command("add")
@click.option("--team-id", required=True, help="Slack team id, T...")
@click.option("--team-name", required=True)
@click.option("--token-stdin", is_flag=True, help="Read the bot token from stdin, not SLACK_BOT_TOKEN.")
def add(team_id: str, team_name: str, token_stdin: bool) -> None:
    """Add or replace a workspace; the token is stored encrypted."""
    token = sys.stdin.readline().strip() if token_stdin else os.environ.get("SLACK_BOT_TOKEN", "")
    if not token:
        fail("no bot token: set SLACK_BOT_TOKEN or pipe it with --token-stdin", EXIT_INVALID)
    with handled():
        workspace = service.add_workspace(team_id, team_name, token)
    click.echo(f"workspace {workspace.team_id} ({workspace.team_name}) saved; token stored encrypted")


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List workspaces (never their tokens)."""
    rows = service.list_workspaces()
    if as_json:
        click.echo(json.dumps([w.as_dict() for w in rows], indent=2))
    elif not rows:
        click.echo("no Slack workspaces: reports are written to the preview folder")
    else:
        print_table(
            ("TEAM ID", "NAME", "ACTIVE", "HEALTH"),
            [(w.team_id, w.team_name, "yes" if w.is_active else "no",
              "ok" if w.healthy else f"{w.last_error} since {w.last_error_at:%Y-%m-%d %H:%M} UTC") for w in rows],
        )  # fmt: skip


@workspaces.command("test")
@click.argument("team_id")
def test(team_id: str) -> None:
    """Check a workspace's token with auth.test and its scopes against what reports need."""
    with handled():
        result = service.check_workspace(team_id)
    if result.team is None:
        fail(result.error or "auth.test failed")
    click.echo(f"{team_id}: token ok for team {result.team} as {result.bot_user_id}; "
               f"scopes: {', '.join(result.scopes) or 'unknown'}")
    if result.missing:
        fail("missing scopes: " + "; ".join(f"{scope} (for {why})" for scope, why in sorted(result.missing.items()))
             + ". Add them under OAuth & Permissions and reinstall the app.")
    click.echo(f"all {len(result.needed)} scopes the reports need are granted")


@workspaces.command("deactivate")
@click.argument("team_id")
def deactivate(team_id: str) -> None:
    """Stop using a workspace (its token stays encrypted; `workspaces add` reactivates it)."""
    with handled():
        service.deactivate_workspace(team_id)
    click.echo(f"workspace {team_id} deactivated")


@workspaces.command("rotate-key")
@click.option("--new-key-stdin", is_flag=True, help="Read the new key from stdin.")
def rotate_key(new_key_stdin: bool) -> None:
    """Re-encrypt every stored token with a new Fernet key (the current one stays in
    REPORT_PIPELINES_SECRET_KEY; the new one comes from REPORT_PIPELINES_NEW_SECRET_KEY or stdin)."""
    new_key = sys.stdin.readline().strip() if new_key_stdin else os.environ.get("REPORT_PIPELINES_NEW_SECRET_KEY", "")
    if not new_key:
        fail("no new key: set REPORT_PIPELINES_NEW_SECRET_KEY or pipe it with --new-key-stdin", EXIT_INVALID)
    with handled():
        count = service.rotate_key(new_key)
    click.echo(f"{count} workspace tokens re-encrypted; set REPORT_PIPELINES_SECRET_KEY to the new key "
               "wherever report-pipelines and Dagster run")
