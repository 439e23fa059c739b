"""Each of a report's ``destinations`` once per window, through the delivery ledger.

The ledger key names the destination by a hash of its address (``webhook/3f2a…``), so webhook
URLs, whose query strings often carry tokens, never reach the database. Every destination is
tried even when one fails; then the failures are raised together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from report_pipelines.destinations import email, teams, webhook
from report_pipelines.destinations.payload import ReportContent
from report_pipelines.destinations.webhook import DestinationError
from report_pipelines.models import EmailDestination, Report, TeamsDestination, WebhookDestination
from report_pipelines.store import DeliveryKey, DeliveryLedger
from report_pipelines.store.deliveries import Sent


class DestinationsFailed(RuntimeError):
    def __init__(self, failures: list[str], *, final: bool):
        super().__init__("; ".join(failures))
        self.final = final


@dataclass(frozen=True)
class DestinationResult:
    destination: str
    status: str  # sent | already_delivered
    detail: str


def ledger_name(destination) -> str:
    identity = destination.url if not isinstance(destination, EmailDestination) else ",".join(sorted(destination.to))
    return f"{destination.type}/{hashlib.sha256(identity.encode()).hexdigest()[:24]}"


def label(destination) -> str:
    """How a destination is named in metadata and logs: never a full URL (it may hold a token)."""
    if isinstance(destination, EmailDestination):
        return f"email to {', '.join(destination.to)}"
    return f"{destination.type} {urlsplit(destination.url).hostname}"


def deliver(report: Report, partition_key: str, content: ReportContent, *, run_id: str, force: bool) -> list[DestinationResult]:
    ledger = DeliveryLedger()
    results: list[DestinationResult] = []
    failures: list[str] = []
    final = True
    for destination in report.destinations:
        key = DeliveryKey(report.id, partition_key, ledger_name(destination))
        delivery_id = f"{report.slug}/{partition_key}/{key.destination}"
        details: list[str] = []

        def send(_previous, destination=destination, delivery_id=delivery_id, details=details) -> Sent:
            details.append(_send(destination, content, delivery_id))
            return Sent(None, None)

        try:
            outcome = ledger.deliver_once(key, run_id=run_id, force=force, send=send,
                                          # Receivers deduplicate on X-Report-Delivery; a mail
                                          # that failed was not accepted: a retry may send again.
                                          may_have_sent=lambda err: False)
        except DestinationError as err:
            failures.append(f"{label(destination)}: {err}")
            final = final and err.final
            continue
        if outcome.sent:
            results.append(DestinationResult(label(destination), "sent", details[0] if details else "sent"))
        else:
            results.append(DestinationResult(label(destination), "already_delivered", f"by run {outcome.entry.run_id}"))
    if failures:
        raise DestinationsFailed(failures, final=final)
    return results


def _send(destination, content: ReportContent, delivery_id: str) -> str:
    if isinstance(destination, WebhookDestination):
        return webhook.send(destination.url, destination.secret_env, content, delivery_id)
    if isinstance(destination, TeamsDestination):
        return teams.send(destination.url, content, delivery_id)
    return email.send(destination.to, content)
