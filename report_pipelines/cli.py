"""The ``report-pipelines`` command."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from importlib import resources
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from report_pipelines.models import ReportValidationError, load_report_text
from report_pipelines.report_store import ReportNotFound, ReportStore, SecretKeyError, default_home

EXIT_INVALID = 2
EXIT_FAILED = 1


def ensure_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home) exists and holds our dagster.yaml."""
    home = default_home().resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    for name in ("dagster.yaml", "workspace.yaml"):
        target = home / name
        if not target.exists():
            source = resources.files("report_pipelines") / "instance" / name
            target.write_text(source.read_text())
    return home


def fail(message: str, code: int = EXIT_FAILED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def read_report_file(path: str):
    try:
        text = Path(path).read_text() if path != "-" else sys.stdin.read()
    except OSError as err:
        raise ReportValidationError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ReportValidationError(f"cannot read {path}: it is not UTF-8 text; save it as UTF-8") from None
    return load_report_text(text, source=path)


@click.group()
def main() -> None:
    """Scheduled, analysed data reports delivered to Slack, orchestrated by Dagster."""
    ensure_home()


def _store() -> ReportStore:
    return ReportStore()


@main.command()
def init() -> None:
    """Create the report-store tables (safe to repeat)."""
    store = _store()
    store.create_tables()
    click.echo(f"report store ready: {_safe_url(store.url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def reports() -> None:
    """Add, change and inspect reports."""


@reports.command("add")
@click.argument("file")
def reports_add(file: str) -> None:
    """Add the report in FILE (YAML or JSON, '-' for stdin); prints its slug."""
    try:
        report = _store().add(read_report_file(file))
    except ReportValidationError as err:
        fail(f"{file}: report not added\n{err}", EXIT_INVALID)
    click.echo(report.slug)


@reports.command("update")
@click.argument("slug")
@click.argument("file")
def reports_update(slug: str, file: str) -> None:
    """Replace report SLUG with the report in FILE; prints the (possibly new) slug."""
    try:
        report = _store().update(slug, read_report_file(file))
    except ReportValidationError as err:
        fail(f"{file}: report not updated\n{err}", EXIT_INVALID)
    except ReportNotFound as err:
        fail(str(err))
    click.echo(report.slug)


def _report_json(report) -> dict:
    data = json.loads(report.model_dump_json())
    data["slug"] = report.slug
    data["cron"] = report.schedule.cron_schedule
    return data


@reports.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reports_list(as_json: bool) -> None:
    """List reports."""
    rows = _store().list()
    if as_json:
        click.echo(json.dumps([_report_json(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo("no reports; add one with `report-pipelines reports add FILE`")
        return
    table = [
        (
            r.slug,
            "enabled" if r.schedule.enabled else "disabled",
            f"{r.schedule.cron_schedule} {r.schedule.timezone}",
            r.slack_config.destination or "-",
            r.user_id,
        )
        for r in rows
    ]
    _print_table(("SLUG", "STATE", "SCHEDULE", "DESTINATION", "OWNER"), table)


def _print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


@reports.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
def reports_show(slug: str, as_json: bool) -> None:
    """Show one report."""
    try:
        report = _store().get(slug)
    except ReportNotFound as err:
        fail(str(err))
    data = _report_json(report)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


def _toggle(slug: str, enabled: bool) -> None:
    try:
        report = _store().set_enabled(slug, enabled)
    except ReportNotFound as err:
        fail(str(err))
    click.echo(f"{report.slug} {'enabled' if enabled else 'disabled'}")


@reports.command("enable")
@click.argument("slug")
def reports_enable(slug: str) -> None:
    """Enable a report's schedule."""
    _toggle(slug, True)


@reports.command("disable")
@click.argument("slug")
def reports_disable(slug: str) -> None:
    """Disable a report's schedule."""
    _toggle(slug, False)


@reports.command("delete")
@click.argument("slug")
def reports_delete(slug: str) -> None:
    """Delete a report (its Dagster run history stays)."""
    try:
        report = _store().delete(slug)
    except ReportNotFound as err:
        fail(str(err))
    click.echo(f"{report.slug} deleted")


@main.group()
def workspaces() -> None:
    """Slack workspaces and their bot tokens."""


@workspaces.command("add")
@click.option("--team-id", required=True, help="Slack team id, T...")
@click.option("--team-name", required=True)
@click.option("--token-stdin", is_flag=True, help="Read the bot token from stdin, not SLACK_BOT_TOKEN.")
def workspaces_add(team_id: str, team_name: str, token_stdin: bool) -> None:
    """Add or replace a workspace; the token is stored encrypted."""
    token = sys.stdin.readline().strip() if token_stdin else os.environ.get("SLACK_BOT_TOKEN", "")
    if not token:
        fail("no bot token: set SLACK_BOT_TOKEN or pipe it with --token-stdin", EXIT_INVALID)
    try:
        workspace = _store().add_workspace(team_id.strip(), team_name.strip(), token)
    except (ReportValidationError, SecretKeyError) as err:
        fail(str(err), EXIT_INVALID)
    click.echo(f"workspace {workspace.team_id} ({workspace.team_name}) saved; token stored encrypted")


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True)
def workspaces_list(as_json: bool) -> None:
    """List workspaces (never their tokens)."""
    rows = _store().workspaces()
    data = [
        {"team_id": w.team_id, "team_name": w.team_name, "active": w.is_active,
         "healthy": w.healthy, "last_error": w.last_error,
         "last_error_at": w.last_error_at.isoformat() if w.last_error_at else None,
         "created_at": w.created_at.isoformat()}
        for w in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif not rows:
        click.echo("no Slack workspaces: reports are written to the preview folder")
    else:
        _print_table(
            ("TEAM ID", "NAME", "ACTIVE", "HEALTH"),
            [
                (w.team_id, w.team_name, "yes" if w.is_active else "no",
                 "ok" if w.healthy else f"{w.last_error} since {w.last_error_at:%Y-%m-%d %H:%M} UTC")
                for w in rows
            ],
        )


@workspaces.command("test")
@click.argument("team_id")
def workspaces_test(team_id: str) -> None:
    """Check a workspace's token with auth.test and its scopes against what reports need."""
    from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError
    from report_pipelines.slack.scopes import required_scopes

    store = _store()
    try:
        client = SlackDelivery(token=store.workspace_token(team_id), team_id=team_id)
        info = client.auth_test()
    except (ReportNotFound, SecretKeyError, SlackDeliveryError) as err:
        fail(str(err))
    granted = set(info.get("scopes") or [])
    click.echo(f"{team_id}: token ok for team {info.get('team')} as {info.get('user_id')}; "
               f"scopes: {', '.join(sorted(granted)) or 'unknown'}")
    only = len(store.workspaces(active_only=True)) == 1
    needed = required_scopes(store.list(), team_id, only)
    missing = {scope: why for scope, why in needed.items() if scope not in granted}
    if missing:
        fail("missing scopes: " + "; ".join(f"{scope} (for {why})" for scope, why in sorted(missing.items()))
             + ". Add them under OAuth & Permissions and reinstall the app.")
    click.echo(f"all {len(needed)} scopes the reports need are granted")


@workspaces.command("deactivate")
@click.argument("team_id")
def workspaces_deactivate(team_id: str) -> None:
    """Stop using a workspace (its token stays encrypted; `workspaces add` reactivates it)."""
    try:
        _store().set_workspace_active(team_id, False)
    except ReportNotFound as err:
        fail(str(err))
    click.echo(f"workspace {team_id} deactivated")


@workspaces.command("rotate-key")
@click.option("--new-key-stdin", is_flag=True, help="Read the new key from stdin.")
def workspaces_rotate_key(new_key_stdin: bool) -> None:
    """Re-encrypt every stored token with a new Fernet key (the current one stays in
    REPORT_PIPELINES_SECRET_KEY; the new one comes from REPORT_PIPELINES_NEW_SECRET_KEY or stdin)."""
    new_key = sys.stdin.readline().strip() if new_key_stdin else os.environ.get("REPORT_PIPELINES_NEW_SECRET_KEY", "")
    if not new_key:
        fail("no new key: set REPORT_PIPELINES_NEW_SECRET_KEY or pipe it with --new-key-stdin", EXIT_INVALID)
    try:
        count = _store().rotate_secret_key(new_key)
    except SecretKeyError as err:
        fail(str(err), EXIT_INVALID)
    click.echo(f"{count} workspace tokens re-encrypted; set REPORT_PIPELINES_SECRET_KEY to the new key "
               "wherever report-pipelines and Dagster run")


def _resolve_partition(job, partition: str | None, option: str = "--partition") -> str:
    from report_pipelines.jobs import InvalidWindow, resolve_partition_key

    try:
        return resolve_partition_key(job.partitions_def, partition)
    except InvalidWindow as err:
        fail(f"{option} {err}" if partition else str(err), EXIT_INVALID)


def _report_job(slug: str):
    from report_pipelines.definitions import build_definitions
    from report_pipelines.names import job_name

    store = _store()
    rows = [row for row in store.job_shaping_rows() if row["slug"] == slug]
    if not rows:
        fail(f"no report {slug!r}; `report-pipelines reports list` shows them")
    defs = build_definitions(rows)
    return defs.resolve_job_def(job_name(slug))


def run_report(slug: str, partition: str | None, force: bool) -> tuple[bool, str, object]:
    """Execute one report window as a Dagster run recorded in DAGSTER_HOME."""
    import dagster as dg

    from report_pipelines.names import TAG_FORCE, TAG_TRIGGER

    job = _report_job(slug)
    key = _resolve_partition(job, partition)
    instance = dg.DagsterInstance.get()
    if not force:
        done = instance.get_run_records(
            dg.RunsFilter(
                job_name=job.name,
                statuses=[dg.DagsterRunStatus.SUCCESS],
                tags={"dagster/partition": key},
            ),
            limit=1,
        )
        if done:
            return True, key, done[0].dagster_run
    tags = {TAG_TRIGGER: "cli"}
    if force:
        tags[TAG_FORCE] = "true"
    # Step-by-step DEBUG events stay in the run's event log; the terminal shows warnings and up.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(
        run_config=quiet, instance=instance, partition_key=key, tags=tags, raise_on_error=False
    )
    return result.success, key, result


def _failure_message(instance, run_id: str) -> str:
    from report_pipelines.sensors import run_error_summary

    return run_error_summary(instance, run_id)


def _delivery_summary(instance, run_id: str) -> dict:
    import dagster as dg

    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        event = record.dagster_event
        if event and event.step_key == "post_to_slack":
            return {key: getattr(value, "value", value) for key, value in event.step_output_data.metadata.items()}
    return {}


@main.command()
@click.argument("slug", required=False)
@click.option("--partition", help="Window start key, e.g. 2026-11-26-09:00; default the latest complete window.")
@click.option("--force", is_flag=True, help="Run again even if delivered; edits the posted message.")
@click.option("--all", "run_all", is_flag=True, help="Run the latest window of every enabled report.")
def run(slug: str | None, partition: str | None, force: bool, run_all: bool) -> None:
    """Run a report now as a Dagster run; non-zero exit on failure."""
    import dagster as dg

    if run_all:
        if slug or partition:
            fail("--all runs every enabled report's latest window; drop SLUG and --partition", EXIT_INVALID)
        _run_all(force)
        return
    if not slug:
        fail("give the report's slug (report-pipelines run SLUG) or --all", EXIT_INVALID)
    ok, key, result = run_report(slug, partition, force)
    instance = dg.DagsterInstance.get()
    if isinstance(result, dg.DagsterRun):
        click.echo(
            f"{slug} window {key} was already delivered by run {result.run_id}; "
            "pass --force to run and post again"
        )
        return
    run_id = result.run_id
    if not ok:
        fail(f"{slug} window {key} failed (run {run_id}):\n{_failure_message(instance, run_id)}")
    delivery = _delivery_summary(instance, run_id)
    click.echo(f"{slug} window {key}: run {run_id} succeeded")
    if delivery.get("detail"):
        click.echo(delivery["detail"])


def _run_all(force: bool) -> None:
    reports_ = _store().list(enabled_only=True)
    if not reports_:
        click.echo("no enabled reports")
        return
    _run_in_turn(
        [(report.slug, None) for report in reports_], label="running reports", noun="reports", force=force,
        describe=lambda slug, key: slug if key is None else f"{slug} {key}",
    )


def _run_in_turn(runs: list[tuple[str, str | None]], *, label: str, noun: str, force: bool,
                 describe: Callable[[str, str | None], str]) -> None:
    """Run ``(slug, window)`` pairs here one after another behind a progress bar; then say how
    many succeeded and fail with each failure's cause."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    failures = []
    with click.progressbar(runs, label=label, item_show_func=lambda run: describe(*run) if run else "") as bar:
        for slug, partition in bar:
            ok, key, result = run_report(slug, partition, force)
            if not ok:
                failures.append(f"{describe(slug, key)}: {_failure_message(instance, result.run_id)}")
    click.echo(f"{len(runs) - len(failures)} of {len(runs)} {noun} succeeded")
    if failures:
        fail("\n".join(failures))


@main.command()
@click.argument("slug")
@click.option("--from", "from_key", required=True, help="First window start key, e.g. 2026-11-01-09:00.")
@click.option("--to", "to_key", required=True, help="Last window start key (inclusive).")
@click.option("--force", is_flag=True, help="Re-run windows already delivered (edits their messages).")
@click.option("--timeout", default=3600, show_default=True, help="Seconds to follow a submitted backfill.")
def backfill(slug: str, from_key: str, to_key: str, force: bool, timeout: int) -> None:
    """Run a range of windows: a Dagster backfill through the webserver when one is serving this
    code location, otherwise one run per window here; progress is shown either way."""
    import dagster as dg

    from report_pipelines.launches import LaunchError, launch_backfill, webserver_available, wait_for_backfill
    from report_pipelines.names import webserver_url

    job = _report_job(slug)
    keys = [_resolve_partition(job, key, option) for key, option in ((from_key, "--from"), (to_key, "--to"))]
    all_keys = job.partitions_def.get_partition_keys()
    first, last = all_keys.index(keys[0]), all_keys.index(keys[1])
    if first > last:
        fail(f"--from {from_key} is after --to {to_key}", EXIT_INVALID)
    windows = all_keys[first : last + 1]
    if webserver_available():
        try:
            backfill_id = launch_backfill(job.name, windows, force=force)
        except LaunchError as err:
            fail(f"the backfill of {slug} was not submitted: {err}")
        click.echo(f"backfill {backfill_id} submitted: {len(windows)} windows of {slug}")
        runs = wait_for_backfill(dg.DagsterInstance.get(), backfill_id, len(windows), timeout=timeout, echo=click.echo)
        failed = [r for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        for run_ in failed:
            click.echo(f"  {run_.tags.get('dagster/partition')}: {run_.status.value} (run {run_.run_id})", err=True)
        click.echo(f"{len(runs) - len(failed)} of {len(windows)} windows succeeded")
        if failed or len(runs) < len(windows):
            sys.exit(EXIT_FAILED)
        return
    click.echo(f"no webserver at {webserver_url()}: running {len(windows)} windows here")
    _run_in_turn([(slug, key) for key in windows], label=f"backfilling {slug}", noun="windows", force=force,
                 describe=lambda _slug, key: key)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def health(as_json: bool) -> None:
    """Check the report store, Dagster storage and daemon, warehouse, Slack and Gemini."""
    import dagster as dg

    from report_pipelines.definitions import shared_resources
    from report_pipelines.maintenance import run_health_checks

    resources_ = shared_resources()
    results = run_health_checks(
        dg.DagsterInstance.get(), warehouse=resources_["warehouse"], analyst=resources_["analyst"]
    )
    healthy = all(r.ok for r in results)
    if as_json:
        click.echo(json.dumps(
            {"healthy": healthy, "checks": [{"component": r.component, "ok": r.ok, "detail": r.detail} for r in results]},
            indent=2,
        ))
    else:
        _print_table(("COMPONENT", "STATE", "DETAIL"), [(r.component, "ok" if r.ok else "UNHEALTHY", r.detail) for r in results])
    if not healthy:
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("slug")
@click.option("--partition", help="Window start key; default the latest complete window.")
@click.option("--json", "as_json", is_flag=True, help="Print the Block Kit payload as JSON.")
def preview(slug: str, partition: str | None, as_json: bool) -> None:
    """Render a report's Slack message without posting it."""
    from report_pipelines.definitions import shared_resources
    from report_pipelines.models import ReportWindow
    from report_pipelines.names import webserver_url
    from report_pipelines.ops import preview_markdown
    from report_pipelines.slack.blocks import ReportMessage, build_report_message
    from report_pipelines.warehouses.base import WarehouseError

    job = _report_job(slug)
    key = _resolve_partition(job, partition)
    report = _store().get(slug)
    window_def = job.partitions_def.time_window_for_partition_key(key)
    window = ReportWindow(
        partition_key=key, start=window_def.start, end=window_def.end, timezone=report.schedule.timezone
    )
    resources_ = shared_resources()
    try:
        result = resources_["warehouse"].run_query(report.query, window)
    except WarehouseError as err:
        fail(f"{slug}: {err}")
    analysis = resources_["analyst"].analyze(
        result.frame, window=window, period=report.schedule.period,
        audience=report.analysis.audience, mode=report.analysis.mode,
        truncated=result.truncated, report_name=report.name,
    )
    now = dt.datetime.now(ZoneInfo(report.schedule.timezone))
    blocks, text = build_report_message(
        ReportMessage(
            name=report.name, description=report.description, window=window, run_time=now,
            frame=result.frame, total_rows=result.row_count, truncated=result.truncated,
            analysis=analysis, run_url=f"{webserver_url()}/runs", generated_at=now,
        )
    )
    if as_json:
        click.echo(json.dumps({"text": text, "blocks": blocks}, indent=2, ensure_ascii=False))
    else:
        click.echo(preview_markdown(blocks))


@main.command("next-runs")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 366))
@click.option("--json", "as_json", is_flag=True)
def next_runs(hours: int, as_json: bool) -> None:
    """Upcoming runs of reports whose schedules are running, in report time and UTC.

    A schedule started or stopped in the Dagster UI counts as the UI left it."""
    from report_pipelines.schedules import upcoming_runs

    import dagster as dg

    from report_pipelines.schedules import running_reports

    now = dt.datetime.now(dt.timezone.utc)
    active = running_reports(_store().list(), dg.DagsterInstance.get())
    runs = upcoming_runs(active, now, now + dt.timedelta(hours=hours))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in runs], indent=2))
        return
    if not runs:
        click.echo(f"no enabled report runs in the next {hours} hours")
        return
    _print_table(
        ("REPORT", "RUNS AT (REPORT TIME)", "RUNS AT (UTC)", "WINDOW"),
        [
            (
                r.slug,
                f"{r.local_time:%Y-%m-%d %H:%M %Z} ({r.timezone})",
                f"{r.utc_time:%Y-%m-%d %H:%M}",
                r.partition_key,
            )
            for r in runs
        ],
    )


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


@main.command()
@click.option("--user", "user_id", required=True, help="The user id the token acts as (its `sub`).")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 366),
              help="How long the token is valid.")
def token(user_id: str, hours: int) -> None:
    """Mint an API token for USER (HS256, signed with REPORT_PIPELINES_JWT_SECRET)."""
    from report_pipelines.api.auth import AuthConfigError, jwt_secret, mint_token

    if not user_id.strip():
        fail("--user must not be empty", EXIT_INVALID)
    try:
        secret = jwt_secret()
    except AuthConfigError as err:
        fail(str(err), EXIT_INVALID)
    click.echo(mint_token(user_id, secret=secret, lifetime=dt.timedelta(hours=hours)))


DEMO_REPORTS = ("daily_sales.yaml", "weekly_regional.yaml", "monthly_products.yaml")


@main.command()
@click.option("--no-serve", is_flag=True, help="Stop after the demo run instead of serving the UI.")
@click.option("--port", default=3000, show_default=True)
def demo(no_serve: bool, port: int) -> None:
    """Demo warehouse + demo reports, one report run, then `dagster dev` on 127.0.0.1."""
    from report_pipelines.demo.data import build_demo_warehouse
    from report_pipelines.warehouses.sqlalchemy import demo_warehouse_path

    home = ensure_home()
    if not os.environ.get("WAREHOUSE_URL"):
        built = build_demo_warehouse(demo_warehouse_path())
        click.echo(f"demo warehouse {'created' if built else 'ready'}: {demo_warehouse_path()}")
    store = _store()
    store.create_tables()
    existing = {r.slug for r in store.list()}
    for name in DEMO_REPORTS:
        text = (resources.files("report_pipelines") / "demo" / "reports" / name).read_text()
        spec = load_report_text(text, source=name)
        if spec.slug not in existing:
            store.add(spec)
            click.echo(f"demo report added: {spec.slug}")
    slug = "daily_sales_report"
    ok, key, result = run_report(slug, None, force=True)
    if not ok:
        import dagster as dg

        fail(f"demo run failed:\n{_failure_message(dg.DagsterInstance.get(), result.run_id)}")
    import dagster as dg

    delivery = _delivery_summary(dg.DagsterInstance.get(), result.run_id)
    click.echo(f"ran {slug} for window {key}: run {result.run_id}")
    if delivery.get("preview_path"):
        click.echo(f"rendered message: {delivery['preview_path']}")
    elif delivery.get("detail"):
        click.echo(delivery["detail"])
    if no_serve:
        return
    click.echo(f"serving the Dagster UI and daemon on http://127.0.0.1:{port} (Ctrl-C stops)")
    # The reload job and the run links in messages must reach this webserver, whatever its port.
    os.environ.setdefault("DAGSTER_WEBSERVER_URL", f"http://127.0.0.1:{port}")
    # `python -m dagster` finds the Dagster installed beside us even when PATH does not.
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
