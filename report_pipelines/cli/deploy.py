"""``report-pipelines deploy ...``: the files a production deployment starts from."""

from __future__ import annotations

import click

from report_pipelines.cli.common import main
from report_pipelines.service.deploy import sharded_workspace


@main.group()
def deploy() -> None:
    """Files for a production deployment (see the README's Production section)."""


@deploy.command("workspace")
@click.option("--shards", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="How many code servers share the reports.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The code servers' host (one host for all).")
@click.option("--port", "first_port", default=4266, show_default=True, type=click.IntRange(1, 65535),
              help="The first code server's port; shard i listens on port + i.")
def workspace(shards: int, host: str, first_port: int) -> None:
    """Print the workspace YAML for SHARDS code servers (REPORT_PIPELINES_SHARD=i/K on each)."""
    click.echo(sharded_workspace(shards, host, first_port), nl=False)
