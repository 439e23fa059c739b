"""``apply`` and ``export``: a folder of report files as the source of truth."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from report_pipelines.cli.common import EXIT_FAILED, handled, main


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--prune", is_flag=True, help="Delete reports created from files that are no longer there.")
@click.option("--exit-code", is_flag=True, help="With --dry-run: exit 1 when the plan would change something.")
def apply(paths: tuple[str, ...], dry_run: bool, prune: bool, exit_code: bool) -> None:
    """Make the report store match the report files under PATHS (files or folders), in one
    transaction: one plan line per report (+ create, ~ update, - delete, = unchanged)."""
    from report_pipelines.service import apply as service
    from report_pipelines.store import cli_actor

    with handled("nothing applied: "):
        plan = service.plan(list(paths), prune=prune)
        for line in plan.lines():
            click.echo(line)
        if dry_run:
            click.echo("dry run: nothing changed" if not plan.empty else "dry run: nothing changed; run without --dry-run to apply")
            if exit_code and not plan.empty:
                sys.exit(EXIT_FAILED)
            return
        service.apply_plan(plan, actor=f"apply:{cli_actor()}")
    counts = {action: sum(c.action == action for c in plan.changes) for action in ("create", "update", "delete")}
    click.echo(f"applied: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
def export(folder: str) -> None:
    """Write one SLUG.yaml per report into FOLDER; `apply FOLDER` takes them back unchanged."""
    from report_pipelines.service import apply as service

    with handled():
        written = service.export(Path(folder))
    click.echo(f"{len(written)} report files written to {folder}")
