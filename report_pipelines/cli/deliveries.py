"""``deliveries list`` and ``deliveries resolve``: the delivery ledger's in-doubt claims.

A claim stays in doubt when a run started posting a window and never heard back (its worker
died, Slack never answered). The window's runs then fail saying so instead of risking a second
message; an operator checks the channel and resolves the claim here.
"""

from __future__ import annotations

import json

import click

from report_pipelines.cli.common import EXIT_INVALID, fail, handled, main, print_table


@main.group()
def deliveries() -> None:
    """The delivery ledger: windows whose message may or may not be in Slack."""


def _slugs() -> dict[int, str]:
    from report_pipelines.store import ReportStore

    return {report.id: report.slug for report in ReportStore().list()}


@deliveries.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per claim.")
def list_claims(as_json: bool) -> None:
    """Claims left "sending": a run started posting the window and never confirmed it."""
    from report_pipelines.store import DeliveryLedger

    with handled():
        claims = DeliveryLedger().in_doubt()
        slugs = _slugs()
    rows = [
        {"report": slugs.get(entry.report_id, f"#{entry.report_id}"), "window": entry.partition_key,
         "destination": entry.destination, "run_id": entry.run_id,
         "since": entry.updated_at.isoformat(timespec="seconds")}
        for entry in claims
    ]  # fmt: skip
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no deliveries in doubt")
        return
    print_table(("REPORT", "WINDOW", "DESTINATION", "RUN", "SINCE"),
                [tuple(row.values()) for row in rows])
    click.echo("check each channel, then: report-pipelines deliveries resolve REPORT --partition WINDOW "
               "--delivered (the message is there) or --retry (it is not: the next run posts it)")


@deliveries.command("resolve")
@click.argument("slug")
@click.option("--partition", required=True, help="The window's key, as `deliveries list` shows it.")
@click.option("--delivered", "outcome", flag_value="delivered", help="The message is in Slack: never post it again.")
@click.option("--retry", "outcome", flag_value="retry", help="The message is not in Slack: let the next run post it.")
@click.option("--destination", help="Which destination, when the window has claims for several.")
@click.option("--ts", help="With --delivered: the message's ts, so a forced re-run can edit it.")
def resolve(slug: str, partition: str, outcome: str | None, destination: str | None, ts: str | None) -> None:
    """Settle an in-doubt claim of one report window."""
    from report_pipelines.service import reports
    from report_pipelines.store import DeliveryKey, DeliveryLedger

    if outcome is None:
        fail("say what you found in Slack: --delivered or --retry", EXIT_INVALID)
    if ts and outcome != "delivered":
        fail("--ts goes with --delivered", EXIT_INVALID)
    with handled():
        report = reports.get_report(slug)
    ledger = DeliveryLedger()
    claims = [entry for entry in ledger.in_doubt()
              if entry.report_id == report.id and entry.partition_key == partition
              and (destination is None or entry.destination == destination)]
    if not claims:
        fail(f"{slug} window {partition} has no delivery in doubt; `report-pipelines deliveries list` shows them",
             EXIT_INVALID)
    if len(claims) > 1:
        fail(f"{slug} window {partition} has claims for several destinations "
             f"({', '.join(entry.destination for entry in claims)}); pick one with --destination", EXIT_INVALID)
    claim = claims[0]
    key = DeliveryKey(report.id, partition, claim.destination)
    try:
        ledger.resolve(key, delivered=outcome == "delivered", ts=ts)
    except LookupError as err:
        fail(str(err), EXIT_INVALID)
    if outcome == "delivered":
        click.echo(f"{slug} window {partition}: marked delivered to {claim.destination}; it will not be posted again")
    else:
        click.echo(f"{slug} window {partition}: claim of run {claim.run_id} dropped; the next run of the window "
                   f"posts it (report-pipelines run {slug} --partition {partition})")
