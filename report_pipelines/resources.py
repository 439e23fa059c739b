"""Dagster resources that are not a warehouse or an analyst: the report store, the per-job report
spec, Slack delivery, and the IO manager that keeps step results encrypted and short-lived."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

import dagster as dg
from pydantic import Field

from report_pipelines.models import Report
from report_pipelines.report_store import (
    DeliveryLedger,
    ReportStore,
    SecretKeyError,
    default_home,
    store_url,
)
from report_pipelines.slack.delivery import (
    AUTH_ERRORS,
    SlackDelivery,
    SlackDeliveryError,
    write_preview,
)


class ReportStoreResource(dg.ConfigurableResource):
    """The report table, opened from REPORT_STORE_URL (or the SQLite file in DAGSTER_HOME).

    The URL is read where the run executes and never enters config, so a password in a
    PostgreSQL URL stays out of the UI.

    Example::

        defs = dg.Definitions(resources={"report_store": ReportStoreResource()})
    """

    def get_store(self) -> ReportStore:
        return ReportStore(store_url())


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
    destination: str | None = None


def preview_folder() -> Path:
    return default_home() / "previews"


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

    def _workspace_for(self, store: ReportStore, report: Report) -> str | None:
        active = store.workspaces(active_only=True)
        wanted = report.slack_config.team_id
        if not active:
            return None
        if wanted:
            if wanted not in {w.team_id for w in active}:
                known = ", ".join(w.team_id for w in active)
                raise SlackDeliveryError(
                    "workspace_not_found",
                    f"report {report.slug} targets Slack workspace {wanted}, which is not an active "
                    f"workspace (active: {known}); fix slack_config.team_id or add the workspace",
                )
            return wanted
        if len(active) > 1:
            known = ", ".join(w.team_id for w in active)
            raise SlackDeliveryError(
                "workspace_ambiguous",
                f"report {report.slug} has no slack_config.team_id and several workspaces are "
                f"active ({known}); set team_id in the report",
            )
        return active[0].team_id

    def _client(self, store: ReportStore, team_id: str) -> SlackDelivery:
        return SlackDelivery(
            token=store.workspace_token(team_id),
            team_id=team_id,
            base_url=self.api_url or os.environ.get("SLACK_API_URL") or None,
            timeout=self.timeout_seconds,
        )

    def deliver(
        self,
        store: ReportStore,
        report: Report,
        partition_key: str,
        blocks: list,
        text: str,
        *,
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
        team_id = self._workspace_for(store, report)
        if team_id is None:
            path = write_preview(
                preview_folder(), report.slug, partition_key,
                {"destination": config.destination, "text": text, "blocks": blocks},
            )
            return Delivery(
                "preview",
                f"no Slack workspace configured: message written to {path}",
                preview_path=str(path),
            )
        destination = f"{team_id}/{config.notification_type}/{config.destination}"
        ledger = DeliveryLedger(store)
        existing = ledger.get(report.id, partition_key, destination)
        if existing is not None and not force:
            return self._already(existing, destination)
        if existing is None and not ledger.claim(report.id, partition_key, destination, run_id):
            # Another run claimed the window between our read and our insert.
            return self._already(ledger.get(report.id, partition_key, destination), destination)
        if existing is not None:
            ledger.take_over(report.id, partition_key, destination, run_id)
        client = self._client(store, team_id)
        try:
            if existing is not None and existing.status == "posted" and existing.ts:
                posted = self._update_or_post(client, existing, blocks, text)
                status = "updated" if posted.ts == existing.ts else "posted"
            else:
                posted = client.post_message(self._channel_id(client, report), blocks, text)
                status = "posted"
        except SlackDeliveryError as err:
            if err.code in AUTH_ERRORS:
                store.mark_workspace_unhealthy(team_id, err.code)
            if not err.may_have_posted and existing is None:
                ledger.release(report.id, partition_key, destination, run_id)
            raise
        ledger.complete(report.id, partition_key, destination, run_id, posted.channel, posted.ts)
        verb = "updated the earlier message in" if status == "updated" else "posted to"
        return Delivery(
            status,
            f"{verb} {config.destination} ({posted.channel}) in {team_id}",
            channel=posted.channel,
            ts=posted.ts,
            team_id=team_id,
            client=client,
            destination=destination,
        )

    def post_extras(
        self,
        store: ReportStore,
        report: Report,
        delivery: Delivery,
        partition_key: str,
        *,
        frame,
        analysis,
        sql_runs: list[str],
    ) -> list[dict]:
        """Thread replies under the window's message: the SQL a prompt-only report ran, insights
        that did not fit, the chart and the CSV. Recorded in the ledger, so a retry that finds
        the message already posted still finishes them, and a later run does not repeat them."""
        from report_pipelines.slack.attachments import sql_thread_text, thread_messages_for_overflow
        from report_pipelines.slack.blocks import bullets_overflow
        from report_pipelines.slack.threads import post_thread_extras

        if not (delivery.channel and delivery.ts and delivery.destination and delivery.team_id):
            return []
        texts = sql_thread_text(sql_runs) if sql_runs else []
        for title, items in (("Insights", analysis.insights), ("Recommendations", analysis.recommendations)):
            overflow = bullets_overflow(items, title=title)
            if overflow:
                texts += thread_messages_for_overflow(f"{title} (continued)", overflow)
        wanted = report.attachments
        if not (texts or wanted.chart or wanted.csv):
            return []
        ledger = DeliveryLedger(store)
        entry = ledger.get(report.id, partition_key, delivery.destination)
        if entry is None or entry.extras_done:
            return []
        client = delivery.client or self._client(store, delivery.team_id)
        records = post_thread_extras(
            client, delivery.channel, delivery.ts, frame=frame, analysis=analysis,
            report_name=report.name, timezone=report.schedule.timezone, slug=report.slug,
            partition_key=partition_key, chart=wanted.chart, csv=wanted.csv, extra_texts=texts,
        )
        ledger.mark_extras_done(report.id, partition_key, delivery.destination)
        return records

    def notify(
        self,
        store: ReportStore,
        report: Report,
        target: tuple[str, str] | None,
        blocks: list,
        text: str,
        *,
        key: str,
    ) -> str:
        """Send an operational notice (not a report): to a DM or channel in the report's
        workspace, or into the preview folder when there is no workspace or no target."""
        team_id = self._workspace_for(store, report)
        if team_id is None or target is None:
            path = write_preview(
                preview_folder() / "_notices", report.slug, key,
                {"destination": target and target[1], "text": text, "blocks": blocks},
            )
            reason = "no Slack workspace configured" if team_id is None else (
                f"owner {report.user_id!r} is not a Slack user ID or email and "
                "REPORT_PIPELINES_OPS_CHANNEL is not set"
            )
            return f"{reason}: notice written to {path}"
        kind, where = target
        try:
            client = self._client(store, team_id)
            channel = client.open_dm(where) if kind == "dm" else client.resolve_channel(where)
            posted = client.post_message(channel, blocks, text)
        except (SlackDeliveryError, SecretKeyError) as err:
            # The notice matters most when Slack is the problem: keep it where people can see it.
            path = write_preview(
                preview_folder() / "_notices", report.slug, key,
                {"destination": where, "text": text, "blocks": blocks, "slack_error": str(err)},
            )
            return f"Slack refused the notice for {where} ({err}): notice written to {path}"
        return f"notice posted to {where} ({posted.channel}, ts {posted.ts})"

    @staticmethod
    def _channel_id(client: SlackDelivery, report: Report) -> str:
        config = report.slack_config
        if config.notification_type == "dm":
            return client.open_dm(config.slack_user_id or "")
        return client.resolve_channel(config.slack_channel or "")

    @staticmethod
    def _update_or_post(client: SlackDelivery, existing, blocks: list, text: str):
        try:
            return client.update_message(existing.channel, existing.ts, blocks, text)
        except SlackDeliveryError as err:
            if err.code not in ("message_not_found", "cant_update_message", "edit_window_closed"):
                raise
        return client.post_message(existing.channel, blocks, text)

    @staticmethod
    def _already(existing, destination: str) -> Delivery:
        if existing is not None and existing.status == "posted":
            return Delivery(
                "already_delivered",
                f"this window was already posted to {destination} (ts {existing.ts}) by run "
                f"{existing.run_id}; nothing posted again (force a re-run to update it)",
                channel=existing.channel,
                ts=existing.ts,
                team_id=destination.split("/", 1)[0],
                destination=destination,
            )
        run = existing.run_id if existing else "another run"
        raise SlackDeliveryError(
            "delivery_in_doubt",
            f"run {run} started posting this window to {destination} and never confirmed it; "
            "check the channel, then force a re-run (`report-pipelines run SLUG --partition KEY "
            "--force`) if the message is missing",
        )


RESULTS_TTL_HOURS = 24


def results_key() -> bytes:
    """The Fernet key for stored step results: REPORT_PIPELINES_SECRET_KEY when set, else a key
    file created once, readable only by its owner, in DAGSTER_HOME."""
    configured = os.environ.get("REPORT_PIPELINES_SECRET_KEY")
    if configured:
        return configured.encode()
    path = default_home() / ".results.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


class EncryptedResultsIOManager(dg.ConfigurableIOManager):
    """Keeps step outputs (query results, analysis, the message) encrypted and short-lived.

    Dagster's default IO manager pickles outputs in plaintext under ``storage/<run_id>/``. Here
    each output is pickled, Fernet-encrypted and written there, so "re-execute from failure" in
    the UI can load the parent run's earlier steps. Results expire after ``ttl_hours``; the
    retention job deletes them.
    """

    ttl_hours: int = Field(
        default=RESULTS_TTL_HOURS, description="Hours a stored step result may be reused."
    )

    def _path(self, identifier: list[str]) -> Path:
        run_id, *rest = identifier
        return default_home() / "storage" / run_id / "report_results" / ("__".join(rest) + ".bin")

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        path = self._path(context.get_identifier())
        path.parent.mkdir(parents=True, exist_ok=True)
        token = Fernet(results_key()).encrypt(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(token)
        os.replace(tmp, path)

    def load_input(self, context: dg.InputContext):
        path = self._path(context.get_identifier())
        if not path.exists():
            raise dg.Failure(
                description=(
                    f"the stored result of {context.upstream_output.step_key} is gone (deleted by "
                    "retention or never written); re-execute all steps"
                )
            )
        try:
            data = Fernet(results_key()).decrypt(path.read_bytes(), ttl=self.ttl_hours * 3600)
        except InvalidToken as err:
            raise dg.Failure(
                description=(
                    f"the stored result of {context.upstream_output.step_key} is older than "
                    f"{self.ttl_hours} h or was written with another key; re-execute all steps"
                )
            ) from err
        return pickle.loads(data)
