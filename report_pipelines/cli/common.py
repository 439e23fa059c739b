"""What every command shares: the command group, DAGSTER_HOME, exit codes and error mapping."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import click

from report_pipelines.names import default_home

EXIT_FAILED = 1
EXIT_INVALID = 2


def ensure_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home) exists and holds our dagster.yaml and workspace.yaml."""
    home = default_home().resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    for name in ("dagster.yaml", "workspace.yaml"):
        target = home / name
        if not target.exists():
            target.write_text((resources.files("report_pipelines") / "instance" / name).read_text())
    return home


def fail(message: str, code: int = EXIT_FAILED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def handled(prefix: str = "") -> Iterator[None]:
    """The service's errors as exit codes: invalid input 2, everything else that failed 1."""
    from report_pipelines.launches import LaunchError
    from report_pipelines.models import ReportValidationError
    from report_pipelines.pipeline import ReportFailed
    from report_pipelines.store import NotFound, ReportBroken, SecretKeyError
    from report_pipelines.windows import InvalidWindow

    try:
        yield
    except (ReportValidationError, InvalidWindow, SecretKeyError) as err:
        fail(f"{prefix}{err}", EXIT_INVALID)
    except (NotFound, ReportBroken, LaunchError, ReportFailed) as err:
        fail(f"{prefix}{err}")


def print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


def instance():
    import dagster as dg

    return dg.DagsterInstance.get()


@click.group()
def main() -> None:
    """Scheduled, analysed data reports delivered to Slack, orchestrated by Dagster."""
    ensure_home()

