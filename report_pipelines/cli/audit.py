"""``audit``: the audit log, newest first."""

from __future__ import annotations

import json

import click

from report_pipelines.cli.common import handled, main, print_table


@main.command()
@click.option("--report", "slug", help="Only this report's entries (its slug or id).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def audit(slug: str | None, limit: int, as_json: bool) -> None:
    """Who did what and when: report changes and runs, workspace changes, deliveries."""
    from report_pipelines.service import reports
    from report_pipelines.store import AuditLog

    with handled():
        report_id = reports.get_report(slug, broken_too=True).id if slug else None
        entries = AuditLog().entries(report_id=report_id, limit=limit)
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.as_dict()))
        return
    if not entries:
        click.echo("the audit log is empty" + (f" for {slug}" if slug else ""))
        return
    print_table(
        ("AT (UTC)", "ACTOR", "ACTION", "REPORT / TEAM", "DETAILS"),
        [(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.actor, entry.action, entry.report_slug or entry.team_id or "",
          ", ".join(f"{key}={value}" for key, value in sorted(entry.details.items()))) for entry in entries],
    )
