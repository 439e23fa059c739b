"""``init``, ``demo``, ``api`` and ``token``: setting up, the demo, and serving the REST API."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from importlib import resources

import click

from report_pipelines.cli.common import EXIT_INVALID, ensure_home, fail, main
from report_pipelines.cli.runs import run_window

DEMO_REPORTS = ("daily_sales.yaml", "weekly_regional.yaml", "monthly_products.yaml")
DEMO_SLUG = "daily_sales_report"


@main.command()
def init() -> None:
    """Create the report-store tables and the report ops' pools in Dagster (safe to repeat)."""
    from report_pipelines.store import ReportStore

    store = ReportStore()
    store.create_tables()
    click.echo(f"report store ready: {store.safe_url}")
    if os.environ.get("DAGSTER_HOME"):
        from report_pipelines.service.deploy import initialize_pools

        pools = initialize_pools()
        if pools:
            click.echo(f"op pools ready: {', '.join(pools)}")


def demo_specs():
    from report_pipelines.report_files import load_report_text

    for name in DEMO_REPORTS:
        yield load_report_text((resources.files("report_pipelines") / "demo" / "reports" / name).read_text(), source=name)


@main.command()
@click.option("--no-serve", is_flag=True, help="Stop after the demo run instead of serving the UI.")
@click.option("--port", default=3000, show_default=True)
def demo(no_serve: bool, port: int) -> None:
    """Demo warehouse + demo reports, one report run, then `dagster dev` on 127.0.0.1."""
    from report_pipelines.demo.data import build_demo_warehouse
    from report_pipelines.service import reports, runs
    from report_pipelines.warehouses.sqlalchemy import demo_warehouse_path

    home = ensure_home()
    if not os.environ.get("WAREHOUSE_URL"):
        built = build_demo_warehouse(demo_warehouse_path())
        click.echo(f"demo warehouse {'created' if built else 'ready'}: {demo_warehouse_path()}")
    existing = {report.slug for report in reports.list_reports()}
    for spec in demo_specs():
        if spec.slug not in existing:
            reports.create_report(spec)
            click.echo(f"demo report added: {spec.slug}")
    report = reports.get_report(DEMO_SLUG)
    launched, outcome = run_window(report, runs.resolve_window(report, None), force=False, trigger="demo")
    if outcome is not None and not outcome.succeeded:
        fail(f"demo run failed:\n{outcome.error}")
    click.echo(f"ran {DEMO_SLUG} for window {launched.partition_key}: run {launched.run_id}")
    if outcome is not None:
        click.echo(f"rendered message: {outcome.delivery['preview_path']}" if outcome.delivery.get("preview_path")
                   else outcome.delivery.get("detail", ""))
    if not no_serve:
        _serve(home, port)


def _serve(home, port: int) -> None:
    click.echo(f"serving the Dagster UI and daemon on http://127.0.0.1:{port} (Ctrl-C stops)")
    # The reload job and the run links in messages must reach this webserver, whatever its port.
    os.environ.setdefault("DAGSTER_WEBSERVER_URL", f"http://127.0.0.1:{port}")
    # `python -m dagster` finds the Dagster installed beside us even when PATH does not. Started
    # in DAGSTER_HOME, so a dagster.yaml in the folder it was called from is never mistaken for it.
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    sys.exit(subprocess.call(command, cwd=home))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def api(host: str, port: int) -> None:
    """Serve the REST API (every request needs a token from `report-pipelines token`)."""
    import uvicorn

    from report_pipelines.api.app import create_app
    from report_pipelines.api.auth import AuthConfigError, jwt_secret

    try:
        app = create_app(jwt_secret())
    except AuthConfigError as err:
        fail(str(err), EXIT_INVALID)
    click.echo(f"serving the report_pipelines API on http://{host}:{port}/api (OpenAPI at /docs)")
    uvicorn.run(app, host=host, port=port)


@main.command("slack-listen")
def slack_listen() -> None:
    """Handle Slack's buttons and thread questions over Socket Mode (no public URL): connects with
    SLACK_APP_TOKEN (xapp-…) and runs until interrupted."""
    import signal
    import threading

    import dagster as dg

    from report_pipelines.slack.socket_mode import SocketModeConfigError, app_token, listen

    try:
        token = app_token()
    except SocketModeConfigError as err:
        fail(str(err), EXIT_INVALID)
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    instances: list[dg.DagsterInstance] = []

    def instance() -> dg.DagsterInstance:
        if not instances:
            instances.append(dg.DagsterInstance.get())
        return instances[0]

    click.echo("listening to Slack in Socket Mode (Ctrl-C stops)")
    try:
        listen(token, instance, stop)
    finally:
        for opened in instances:
            opened.dispose()


@main.command()
@click.option("--user", "user_id", required=True, help="The user id the token acts as (its `sub`).")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 366),
              help="How long the token is valid.")
@click.option("--role", type=click.Choice(["user", "admin"]), default="user", show_default=True,
              help="admin: manages Slack workspaces, sees every report and the full health check.")
def token(user_id: str, hours: int, role: str) -> None:
    """Mint an API token for USER (HS256, signed with REPORT_PIPELINES_JWT_SECRET)."""
    from report_pipelines.api.auth import AuthConfigError, jwt_secret, mint_token

    if not user_id.strip():
        fail("--user must not be empty", EXIT_INVALID)
    try:
        secret = jwt_secret()
    except AuthConfigError as err:
        fail(str(err), EXIT_INVALID)
    click.echo(mint_token(user_id, secret=secret, lifetime=dt.timedelta(hours=hours), role=role))
