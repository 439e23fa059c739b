"""Dagster resources that are not a warehouse or an analyst: the report store, the per-job report
spec, and Slack delivery guarded by the delivery ledger."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg
from pydantic import Field

from report_pipelines.models import Report
from report_pipelines.names import default_home
from report_pipelines.pipeline import ThreadExtras, write_preview_bundle
from report_pipelines.store import AuditLog, DeliveryKey, DeliveryLedger, LedgerEntry, ReportStore, SecretKeyError, WorkspaceStore
from report_pipelines.store.deliveries import Delivered, Sent
from report_pipelines.store.history import WindowHistory
from report_pipelines.slack.delivery import AUTH_ERRORS, SlackDelivery, SlackDeliveryError
from report_pipelines.slack.previews import write_preview
from report_pipelines.slack.routing import destination_key, legacy_destination_key, workspace_for
from report_pipelines.slack.threads import post_thread_extras


class ReportStoreResource(dg.ConfigurableResource):
    """The report table, opened from REPORT_STORE_URL (or the SQLite file in DAGSTER_HOME).

    The URL is read where the run executes and never enters config, so a password in a
    PostgreSQL URL stays out of the UI.

    Example::

        defs = dg.Definitions(resources={"report_store": ReportStoreResource()})
    """

    def get_store(self) -> ReportStore:
        return ReportStore()

    def get_history(self) -> WindowHistory:
        """Each window's key metrics and result fingerprint (comparisons, anomalies, ``changed``)."""
        return WindowHistory()


class ReportResource(dg.ConfigurableResource):
    """Which report a job runs. Bound per job, so launches need no run config.

    Only the id and slug are fixed at load: SQL, prompt and destination are re-read by id when the
    run starts, so editing them takes effect without reloading the code location.
    """

    report_id: int = Field(description="Primary key of the report in scheduled_reports.")
    slug: str = Field(description="The report's slug; Dagster names derive from it.")


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: posted, previewed or not sent (and why)."""

    # posted | updated | already_delivered | preview | not_sent | skipped
    status: str
    detail: str
    channel: str | None = None
    ts: str | None = None
    team_id: str | None = None
    preview_path: str | None = None
    client: SlackDelivery | None = field(default=None, repr=False, compare=False)
    key: DeliveryKey | None = None


def preview_folder():
    return default_home() / "previews"


# Slack answers that mean the message to edit is gone: a forced re-run then posts anew.
_NOTHING_TO_EDIT = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class SlackResource(dg.ConfigurableResource):
    """Posts report messages with the workspace's stored bot token, or previews them.

    With no active Slack workspace in the report store, messages are written as JSON to
    ``DAGSTER_HOME/previews/<slug>/`` instead: the demo works with zero credentials.

    Example::

        defs = dg.Definitions(resources={"slack": SlackResource()})
    """

    api_url: str | None = Field(
        default=None,
        description="Slack Web API base URL; unset reads SLACK_API_URL at run time, else Slack's.",
    )
    timeout_seconds: int = Field(default=30, description="HTTP timeout of one Slack API call.")

    def team_for(self, report: Report) -> str | None:
        """The workspace the report posts into; None when none is configured (preview)."""
        active = [w.team_id for w in WorkspaceStore().list(active_only=True)]
        return workspace_for(report.slug, report.slack_config, active)

    def delivery_key(
        self, report: Report, partition_key: str, client: SlackDelivery | None = None
    ) -> DeliveryKey | None:
        """The ledger key of the report's window, or None when it is not posted to Slack.

        The destination is keyed on what Slack resolves it to (the channel ID, or the DM's user
        ID), so this asks Slack when the report names a channel by name or a user by email."""
        if report.slack_config.notification_type == "none":
            return None
        team_id = self.team_for(report)
        if team_id is None:
            return None
        return self._key(report, partition_key, team_id, client or self.client(team_id))[0]

    def _key(self, report: Report, partition_key: str, team_id: str, client: SlackDelivery) -> tuple[DeliveryKey, str]:
        """The window's ledger key in ``team_id``, and the resolved destination it names."""
        resolved = self._resolved(client, report)
        return DeliveryKey(report.id, partition_key, destination_key(team_id, report.slack_config, resolved)), resolved

    def client(self, team_id: str) -> SlackDelivery:
        return SlackDelivery(
            token=WorkspaceStore().token(team_id),
            team_id=team_id,
            base_url=self.api_url or os.environ.get("SLACK_API_URL") or None,
            timeout=self.timeout_seconds,
        )

    def deliver(
        self,
        report: Report,
        partition_key: str,
        blocks: list,
        text: str,
        *,
        extras: ThreadExtras,
        run_id: str,
        force: bool = False,
    ) -> Delivery:
        """Post once per (report, window, destination), guarded by the delivery ledger.

        A forced re-run edits the message already posted for the window (chat.update) rather
        than posting a second one; it posts anew only when there is nothing to edit.
        """
        config = report.slack_config
        if config.notification_type == "none":
            return Delivery("not_sent", "notification_type is none: the report is not posted")
        team_id = self.team_for(report)
        if team_id is None:
            path = write_preview_bundle(preview_folder(), report, partition_key, blocks, text, extras)
            return Delivery("preview", f"no Slack workspace configured: message written to {path}", preview_path=str(path))
        client = self.client(team_id)
        try:
            key, resolved = self._key(report, partition_key, team_id, client)
        except SlackDeliveryError as err:
            if err.code in AUTH_ERRORS:
                WorkspaceStore().mark_unhealthy(team_id, err.code)
            raise
        ledger = DeliveryLedger()
        # A window delivered under an earlier spelling of the same destination (#sales, #Sales,
        # C0123ABCD) or by an earlier release keeps its row: it is not posted again.
        ledger.adopt(
            key, [legacy_destination_key(team_id, config)],
            channel=resolved if config.notification_type == "channel" else None,
        )  # fmt: skip

        def send(previous: LedgerEntry | None) -> Sent:
            if previous is not None and previous.posted and previous.ts:
                posted = self._update_or_post(client, previous, blocks, text)
            else:
                channel = client.open_dm(resolved) if config.notification_type == "dm" else resolved
                posted = client.post_message(channel, blocks, text)
            return Sent(posted.channel, posted.ts)

        try:
            outcome = ledger.deliver_once(
                key, run_id=run_id, force=force, send=send,
                may_have_sent=lambda err: getattr(err, "may_have_posted", True),
            )  # fmt: skip
        except SlackDeliveryError as err:
            if err.code in AUTH_ERRORS:
                WorkspaceStore().mark_unhealthy(team_id, err.code)
            raise
        entry = outcome.entry
        common = {"channel": entry.channel, "ts": entry.ts, "team_id": team_id, "key": key}
        if not outcome.sent:
            return Delivery(
                "already_delivered",
                f"this window was already posted to {key.destination} (ts {entry.ts}) by run "
                f"{entry.run_id}; nothing posted again (force a re-run to update it)",
                **common,
            )
        previous = outcome.previous
        updated = previous is not None and previous.posted and previous.ts == entry.ts
        AuditLog().record(
            f"run:{run_id}", "delivery", report=report, team_id=team_id, window=partition_key,
            destination=key.destination, channel=entry.channel, ts=entry.ts, run_id=run_id,
            edited=updated,
        )  # fmt: skip
        verb = "updated the earlier message in" if updated else "posted to"
        return Delivery(
            "updated" if updated else "posted",
            f"{verb} {config.destination} ({entry.channel}) in {team_id}",
            client=client,
            **common,
        )

    def post_extras(self, report: Report, delivery: Delivery, extras: ThreadExtras) -> list[dict]:
        """Thread replies under the window's message. Recorded in the ledger, so a retry that
        finds the message already posted still finishes them, and a later run does not repeat
        them."""
        if not (extras and delivery.channel and delivery.ts and delivery.key):
            return []
        ledger = DeliveryLedger()
        entry = ledger.get(delivery.key)
        if entry is None or entry.extras_done:
            return []
        client = delivery.client or self.client(delivery.team_id or "")
        records = post_thread_extras(
            client, delivery.channel, delivery.ts, report_name=report.name,
            texts=extras.texts, files=extras.files, done=set(entry.extras_posted),
            on_posted=lambda name: ledger.mark_extra_posted(delivery.key, name),
        )  # fmt: skip
        ledger.mark_extras_done(delivery.key)
        return [*records, *extras.skipped]

    def reply_in_thread(
        self, report: Report, channel: str, thread_ts: str, text: str, *, once: DeliveryKey, run_id: str
    ) -> str:
        """Post ``text`` under the message ``thread_ts`` once per ``once`` (a retried run of the
        same question finds the ledger row and posts nothing)."""
        team_id = self.team_for(report)
        if team_id is None:
            raise SlackDeliveryError("not_configured", "no Slack workspace is configured to answer in")
        outcome = _post_once(self.client(team_id), channel, None, text, once=once, run_id=run_id, thread_ts=thread_ts)
        where = f"the thread of {thread_ts} in {outcome.entry.channel}"
        return f"answered in {where} (ts {outcome.entry.ts})" if outcome.sent else f"already answered in {where}"

    def notify(
        self, report: Report, target: tuple[str, str] | None, blocks: list, text: str, *, key: str,
        once: DeliveryKey | None = None, run_id: str | None = None,
    ) -> str:
        """Send an operational notice (not a report): to a DM or channel in the report's
        workspace, or into the preview folder when there is no workspace or no target.

        With ``once`` (a ledger key, e.g. one per failed run, claimed for ``run_id``) the notice
        goes through the delivery ledger: a second evaluation of the same failure posts nothing."""
        notices = preview_folder() / "_notices"
        try:
            team_id = self.team_for(report)
        except SlackDeliveryError:
            team_id = None
        if team_id is None or target is None:
            path = write_preview(notices, report.slug, key, {"destination": target and target[1], "text": text, "blocks": blocks})
            reason = "no Slack workspace configured" if team_id is None else (
                f"owner {report.user_id!r} is not a Slack user ID or email and "
                "REPORT_PIPELINES_OPS_CHANNEL is not set"
            )
            return f"{reason}: notice written to {path}"
        kind, where = target
        try:
            client = self.client(team_id)
            channel = client.open_dm(where) if kind == "dm" else client.resolve_channel(where)
            if once is not None:
                outcome = _post_once(client, channel, blocks, text, once=once, run_id=run_id or "")
                if not outcome.sent:
                    return f"notice already posted to {where} ({outcome.entry.channel}, ts {outcome.entry.ts}); not posted again"
                return f"notice posted to {where} ({outcome.entry.channel}, ts {outcome.entry.ts})"
            posted = client.post_message(channel, blocks, text)
        except (SlackDeliveryError, SecretKeyError) as err:
            # The notice matters most when Slack is the problem: keep it where people can see it.
            path = write_preview(
                notices, report.slug, key,
                {"destination": where, "text": text, "blocks": blocks, "slack_error": str(err)},
            )  # fmt: skip
            return f"Slack refused the notice for {where} ({err}): notice written to {path}"
        return f"notice posted to {where} ({posted.channel}, ts {posted.ts})"

    @staticmethod
    def _resolved(client: SlackDelivery, report: Report) -> str:
        """The destination as Slack knows it: the channel ID, or the DM's user ID."""
        config = report.slack_config
        if config.notification_type == "dm":
            return client.user_id(config.slack_user_id or "")
        return client.resolve_channel(config.slack_channel or "")

    @staticmethod
    def _update_or_post(client: SlackDelivery, previous: LedgerEntry, blocks: list, text: str):
        try:
            return client.update_message(previous.channel, previous.ts, blocks, text)
        except SlackDeliveryError as err:
            if err.code not in _NOTHING_TO_EDIT:
                raise
        return client.post_message(previous.channel, blocks, text)


def _post_once(
    client: SlackDelivery, channel: str, blocks: list | None, text: str, *, once: DeliveryKey, run_id: str,
    thread_ts: str | None = None,
) -> Delivered:
    """One message (a notice, a thread answer) through the delivery ledger, once per ``once``;
    a post Slack may have made (5xx, dropped connection) keeps its claim rather than risk a second."""

    def send(_previous: LedgerEntry | None) -> Sent:
        posted = client.post_message(channel, blocks, text, thread_ts=thread_ts)
        return Sent(posted.channel, posted.ts)

    return DeliveryLedger().deliver_once(
        once, run_id=run_id, force=False, send=send, may_have_sent=lambda err: getattr(err, "may_have_posted", True)
    )
