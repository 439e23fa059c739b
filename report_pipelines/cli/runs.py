"""``run``, ``backfill``, ``preview``, ``next-runs`` and ``health``: report windows and their runs."""

from __future__ import annotations

import json
import sys

import click

from report_pipelines.cli.common import EXIT_FAILED, EXIT_INVALID, fail, handled, instance, main, print_table
from report_pipelines.service.schedule import MAX_HOURS


def _window(report, key: str | None, option: str = "--partition") -> str:
    from report_pipelines.service import runs

    with handled(f"{option} " if key else ""):
        return runs.resolve_window(report, key)


def _report(slug: str):
    from report_pipelines.service import reports

    with handled():
        return reports.get_report(slug)


def run_window(report, key: str, *, force: bool, trigger: str = "cli"):
    """Launch one window and follow it to its end: ``(launched, outcome or None if delivered)``."""
    from report_pipelines.service import runs

    with handled(f"{report.slug} window {key}: "):
        launched = runs.launch_window(report, key, force=force, trigger=trigger, instance=instance(),
                                      without_webserver=True)
    if launched.delivered is not None:
        return launched, None
    return launched, runs.follow(instance(), launched.run_id)


@main.command()
@click.argument("slug", required=False)
@click.option("--partition", help="Window start key, e.g. 2026-11-26-09:00; default the latest complete window.")
@click.option("--force", is_flag=True, help="Run again even if delivered; edits the posted message.")
@click.option("--all", "run_all", is_flag=True, help="Run the latest window of every enabled report.")
def run(slug: str | None, partition: str | None, force: bool, run_all: bool) -> None:
    """Run a report window as a Dagster run of the code location (queued through the webserver or
    the daemon when one runs, else launched here); non-zero exit on failure."""
    if run_all:
        if slug or partition:
            fail("--all runs every enabled report's latest window; drop SLUG and --partition", EXIT_INVALID)
        _run_all(force)
        return
    if not slug:
        fail("give the report's slug (report-pipelines run SLUG) or --all", EXIT_INVALID)
    report = _report(slug)
    key = _window(report, partition)
    launched, outcome = run_window(report, key, force=force)
    if outcome is None:
        click.echo(f"{slug} window {key} was already delivered by run {launched.run_id}; "
                   "pass --force to run and post again")
        return
    if not outcome.succeeded:
        fail(f"{slug} window {key} failed (run {outcome.run_id}):\n{outcome.error or outcome.status.value}")
    click.echo(f"{slug} window {key}: run {outcome.run_id} succeeded")
    if outcome.delivery.get("detail"):
        click.echo(outcome.delivery["detail"])


def _run_all(force: bool) -> None:
    from report_pipelines.service import reports

    enabled = reports.list_reports(enabled_only=True)
    if not enabled:
        click.echo("no enabled reports")
        return
    _run_in_turn([(report, None) for report in enabled], label="running reports", noun="reports", force=force)


def _run_in_turn(pairs: list, *, label: str, noun: str, force: bool) -> None:
    """Run ``(report, window)`` pairs one after another behind a progress bar; then say how many
    succeeded (or were already delivered) and fail with each failure's cause."""
    failures = []
    with click.progressbar(pairs, label=label, item_show_func=lambda p: p[0].slug if p else "") as bar:
        for report, key in bar:
            key = _window(report, key)
            _, outcome = run_window(report, key, force=force)
            if outcome is not None and not outcome.succeeded:
                failures.append(f"{report.slug} {key}: {outcome.error or outcome.status.value}")
    click.echo(f"{len(pairs) - len(failures)} of {len(pairs)} {noun} succeeded")
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
    code location, otherwise one run per window launched from here; progress is shown either way."""
    import dagster as dg

    from report_pipelines.launches import Webserver, wait_for_backfill
    from report_pipelines.service import runs

    report = _report(slug)
    with handled():
        windows = runs.windows_between(report, _window(report, from_key, "--from"), _window(report, to_key, "--to"))
    if not Webserver().available():
        click.echo(f"no webserver at {Webserver().url}: running {len(windows)} windows from here")
        _run_in_turn([(report, key) for key in windows], label=f"backfilling {slug}", noun="windows", force=force)
        return
    with handled(f"the backfill of {slug} was not submitted: "):
        backfill_id = runs.launch_backfill(report, windows, force=force)
    click.echo(f"backfill {backfill_id} submitted: {len(windows)} windows of {slug}")
    done = wait_for_backfill(instance(), backfill_id, len(windows), timeout=timeout, echo=click.echo)
    failed = [r for r in done if r.status != dg.DagsterRunStatus.SUCCESS]
    for run_ in failed:
        click.echo(f"  {run_.tags.get('dagster/partition')}: {run_.status.value} (run {run_.run_id})", err=True)
    click.echo(f"{len(done) - len(failed)} of {len(windows)} windows succeeded")
    if failed or len(done) < len(windows):
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("slug")
@click.option("--partition", help="Window start key; default the latest complete window.")
@click.option("--json", "as_json", is_flag=True, help="Print the Block Kit payload as JSON.")
def preview(slug: str, partition: str | None, as_json: bool) -> None:
    """Render a report window's message as a run would, without sending it: the message, whether
    send_if would send it, and the chart PNG and CSV, written under DAGSTER_HOME/previews."""
    from report_pipelines.service.preview import preview as render
    from report_pipelines.slack.markdown import blocks_to_markdown

    report = _report(slug)
    key = _window(report, partition)
    with handled(f"{slug}: "):
        result = render(report, key)
    if as_json:
        click.echo(json.dumps({"text": result.text, "blocks": result.blocks, "send": result.send,
                               "send_if": result.reason, "thread": result.extras.texts,
                               "files": [str(path) for path in result.files]}, indent=2, ensure_ascii=False))
        return
    click.echo(blocks_to_markdown(result.blocks))
    click.echo(f"send_if: {result.reason}" if result.send else f"would NOT be sent: {result.reason}")
    for path in (result.path, *result.files):
        click.echo(f"written: {path}")


@main.command("next-runs")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, MAX_HOURS),
              help="How far ahead, at most 744 (31 days).")
@click.option("--json", "as_json", is_flag=True)
def next_runs(hours: int, as_json: bool) -> None:
    """Upcoming runs of reports whose schedules are running, in report time and UTC.

    A schedule started or stopped in the Dagster UI counts as the UI left it."""
    from report_pipelines.service.schedule import next_runs as upcoming

    found = [run_ for _, run_ in upcoming(instance(), hours)]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found], indent=2))
    elif not found:
        click.echo(f"no enabled report runs in the next {hours} hours")
    else:
        print_table(
            ("REPORT", "RUNS AT (REPORT TIME)", "RUNS AT (UTC)", "WINDOW"),
            [(r.slug, r.local_label, f"{r.utc_time:%Y-%m-%d %H:%M}", r.partition_key) for r in found],
        )


@main.command()
@click.option("--json", "as_json", is_flag=True)
def health(as_json: bool) -> None:
    """Check the report store, Dagster storage and daemon, warehouse, Slack and Gemini."""
    from report_pipelines.service.health import health as check

    result = check(instance())
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        print_table(("COMPONENT", "STATE", "DETAIL"),
                    [(c.component, "ok" if c.ok else "UNHEALTHY", c.detail) for c in result.checks])
    if not result.healthy:
        sys.exit(EXIT_FAILED)
