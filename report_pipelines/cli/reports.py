"""``report-pipelines reports ...``: add, change and inspect reports."""

from __future__ import annotations

import datetime as dt

import json
import sys

import click

from report_pipelines.cli.common import EXIT_INVALID, handled, main, print_table
from report_pipelines.service import reports as service


@main.group()
def reports() -> None:
    """Add, change and inspect reports."""


def _read(file: str):
    return service.read_report_file(file, sys.stdin.read() if file == "-" else None)


@reports.command("add")
@click.argument("file")
def add(file: str) -> None:
    """Add the report in FILE (YAML or JSON, '-' for stdin); prints its slug."""
    with handled(f"{file}: report not added\n"):
        report = service.create_report(_read(file))
    click.echo(report.slug)


@reports.command("update")
@click.argument("slug")
@click.argument("file")
def update(slug: str, file: str) -> None:
    """Replace report SLUG with the report in FILE ('-' for stdin); prints the (possibly new) slug.

    `reports show SLUG --yaml` prints a file this command takes back unchanged."""
    with handled(f"{file}: report not updated\n"):
        report = service.update_report(slug, _read(file))
    click.echo(report.slug)


@reports.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """List reports."""
    rows, broken = service.list_reports(), service.list_broken()
    if as_json:
        click.echo(json.dumps([service.report_summary(r) for r in rows] + [b.as_dict() for b in broken], indent=2))
    elif not rows and not broken:
        click.echo("no reports; add one with `report-pipelines reports add FILE`")
    else:
        print_table(
            ("SLUG", "STATE", "SCHEDULE", "DESTINATION", "OWNER"),
            [(r.slug, ("enabled" if r.schedule.enabled else "disabled")
              + (f", {r.snooze_state}" if r.snoozed_until and r.snoozed_until > dt.datetime.now(dt.timezone.utc) else ""),
              f"{r.schedule.cron_schedule} {r.schedule.timezone}",
              r.slack_config.destination or "-", r.user_id) for r in rows]
            + [(b.slug, "BROKEN", "-", "-", b.user_id) for b in broken],
        )  # fmt: skip
        for b in broken:
            click.echo(f"BROKEN {b.slug} (#{b.id}), not scheduled: {b.error}", err=True)


@reports.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="The report with its id, slug, cron and job name.")
@click.option("--yaml", "as_yaml", is_flag=True, help="Exactly the report file (for `reports update SLUG -`).")
def show(slug: str, as_json: bool, as_yaml: bool) -> None:
    """Show one report (by default its file, headed by comments with its id, job and cron)."""
    if as_json and as_yaml:
        click.echo("error: give --json or --yaml, not both", err=True)
        sys.exit(EXIT_INVALID)
    with handled():
        report = service.get_report(slug)
    if as_json:
        click.echo(json.dumps(service.report_summary(report), indent=2))
    else:
        click.echo(service.report_yaml(report, header=not as_yaml).rstrip())


def _toggle(slug: str, enabled: bool) -> None:
    with handled():
        report = service.set_enabled(slug, enabled)
    click.echo(f"{report.slug} {'enabled' if enabled else 'disabled'}")


@reports.command("enable")
@click.argument("slug")
def enable(slug: str) -> None:
    """Enable a report's schedule (this resets a stop made in the Dagster UI)."""
    _toggle(slug, True)


@reports.command("disable")
@click.argument("slug")
def disable(slug: str) -> None:
    """Disable a report's schedule."""
    _toggle(slug, False)


@reports.command("delete")
@click.argument("slug")
def delete(slug: str) -> None:
    """Delete a report (its Dagster run history stays)."""
    with handled():
        report = service.delete_report(slug)
    click.echo(f"{report.slug} deleted")


@reports.command("detach")
@click.argument("slug")
def detach(slug: str) -> None:
    """Let the CLI and the API edit a report that `apply` created from a file."""
    with handled():
        before = service.get_report(slug).source
        report = service.detach_report(slug)
    click.echo(f"{report.slug}: detached from {before.removeprefix('file:')}" if before else f"{report.slug}: not from a file")


@reports.command("reassign")
@click.argument("slug")
@click.option("--to", "new_owner", required=True, help="The new owner's user id.")
def reassign(slug: str, new_owner: str) -> None:
    """Give a report to another user (its owner in the API, its failure notices' recipient)."""
    with handled():
        before = service.get_report(slug).user_id
        report = service.reassign_report(slug, new_owner)
    click.echo(f"{report.slug}: owner {before} -> {report.user_id}")
