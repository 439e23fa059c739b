"""Slack's Interactivity and Events requests: verified, acted on once, answered to the presser.

The API server's ``POST /slack/interactions`` and ``POST /slack/events`` (``api/slack_routes.py``)
translate HTTP into the calls here. A request is acted on only when its ``X-Slack-Signature``
verifies against ``SLACK_SIGNING_SECRET`` (v0, at most five minutes old) and its id has not been
seen before (Slack retries events it thinks went unanswered, and a person can press twice).

Who may press what:

* **Re-run** — anyone who can see the message: it forces a run of that window through the same
  service the CLI and API use, and the run edits the message in place.
* **Snooze** (1 day, 1 week, until re-enabled) — the report's owner (its ``user_id`` is the
  presser's Slack user ID or email, read with users.info) or anyone listed in
  ``REPORT_PIPELINES_SLACK_ADMINS`` (Slack user IDs or emails, comma-separated).
* **Open in Dagster** — a link; nothing to act on.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from report_pipelines.slack.blocks import ACTION_OPEN, ACTION_RERUN, ACTION_SNOOZE
from report_pipelines.slack.scopes import SIGNING_SECRET_ENV
ADMINS_ENV = "REPORT_PIPELINES_SLACK_ADMINS"
log = logging.getLogger(__name__)


class SlackRequestRejected(Exception):
    """The request is not from Slack (bad, stale or missing signature) or not understood."""


def signing_secret() -> str:
    secret = os.environ.get(SIGNING_SECRET_ENV, "").strip()
    if not secret:
        raise SlackRequestRejected(f"{SIGNING_SECRET_ENV} is not set: Slack requests cannot be verified")
    return secret


def verify(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise :class:`SlackRequestRejected` unless Slack signed ``body`` within the last 5 minutes."""
    verifier = SignatureVerifier(signing_secret())
    if not verifier.is_valid_request(body, dict(headers)):
        raise SlackRequestRejected("the request's Slack signature is missing, wrong or older than 5 minutes")


def interaction_payload(body: bytes) -> dict:
    """The JSON ``payload`` field of an interaction's form body."""
    try:
        return json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError) as err:
        raise SlackRequestRejected("an interaction carries a JSON payload form field") from err


@dataclass(frozen=True)
class Action:
    """One pressed element: which, by whom, on what, and where to answer."""

    action_id: str
    value: dict
    user_id: str
    team_id: str | None
    response_url: str | None
    key: str


def actions_of(payload: dict) -> list[Action]:
    """The report actions in a ``block_actions`` payload (others are acknowledged and ignored)."""
    if payload.get("type") != "block_actions":
        return []
    user = (payload.get("user") or {}).get("id", "")
    team = (payload.get("team") or {}).get("id")
    found = []
    for action in payload.get("actions") or []:
        action_id = action.get("action_id")
        if action_id not in (ACTION_RERUN, ACTION_SNOOZE, ACTION_OPEN):
            continue
        raw = action.get("value") or (action.get("selected_option") or {}).get("value") or "{}"
        try:
            value = json.loads(raw)
        except ValueError:
            value = {}
        # The same press delivered twice has the same action_ts: act once.
        key = f"action/{team}/{user}/{action_id}/{action.get('action_ts', '')}/{raw}"
        found.append(Action(action_id, value, user, team, payload.get("response_url"), key))
    return found


def new_actions(payload: dict) -> list[Action]:
    """The payload's report actions that no earlier request (a retry, a double press) claimed."""
    from report_pipelines.store.slack_requests import SlackRequestLog

    requests = SlackRequestLog()
    return [action for action in actions_of(payload) if requests.first_time(action.key)]


def act(action: Action, instance_of, *, without_webserver: bool = False) -> None:
    """Handle one action and answer the presser; after Slack got its answer, so it never raises.

    ``without_webserver`` lets a re-run start on the instance when no webserver answers (the
    ``slack-listen`` process, like the CLI); the API server always goes through the webserver."""
    try:
        text = handle_action(action, instance_of(), without_webserver=without_webserver)
    except Exception:  # noqa: BLE001 - nobody else would hear of it: tell the presser, keep the trace
        log.exception("Slack action %s failed", action.action_id)
        text = "Something went wrong handling this; the server's log has the details."
    if text:
        answer(action.response_url, text)


@dataclass(frozen=True)
class Question:
    """A person's message in a thread (a reply, or an @mention of the bot)."""

    channel: str
    thread_ts: str
    text: str
    user: str
    key: str


_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")


def question_of(envelope: dict) -> Question | None:
    """The question in an Events API envelope, or None (not a thread reply, a bot, an edit)."""
    event = envelope.get("event") or {}
    if event.get("type") not in ("app_mention", "message") or event.get("bot_id") or event.get("subtype"):
        return None
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not thread_ts or thread_ts == ts or not event.get("channel"):
        return None
    text = _MENTION.sub("", str(event.get("text") or "")).strip()
    if not text:
        return None
    # An @mention in a thread arrives twice (app_mention and message): one key for the message.
    return Question(event["channel"], thread_ts, text, str(event.get("user") or ""), f"question/{event['channel']}/{ts}")


def new_question(envelope: dict) -> Question | None:
    from report_pipelines.store.slack_requests import SlackRequestLog

    question = question_of(envelope)
    if question is None or not SlackRequestLog().first_time(question.key):
        return None
    return question


def ask(question: Question, instance_of, *, without_webserver: bool = False) -> str | None:
    """Start the run that answers ``question`` (None: not asked under a report message)."""
    from report_pipelines.launches import LaunchError
    from report_pipelines.service import questions

    try:
        return questions.ask(question.channel, question.thread_ts, question.text, question.key, user=question.user,
                             instance=instance_of(), without_webserver=without_webserver)
    except LaunchError as err:
        log.error("the question in %s/%s could not start: %s", question.channel, question.thread_ts, err)
        return None


def may_snooze(owner: str, slack_user: str, email: str | None) -> bool:
    allowed = {item.strip().lower() for item in os.environ.get(ADMINS_ENV, "").split(",") if item.strip()}
    who = {slack_user.lower(), *([email.lower()] if email else [])}
    return owner.strip().lower() in who or bool(who & allowed)


def user_email(team_id: str | None, user_id: str) -> str | None:
    """The presser's email via users.info (users:read.email), None when Slack will not say."""
    from report_pipelines.slack.delivery import make_client
    from report_pipelines.store import WorkspaceNotFound, WorkspaceStore

    try:
        store = WorkspaceStore()
        workspace = store.get(team_id) if team_id else store.list(active_only=True)[0]
        client = make_client(store.token(workspace.team_id), read_only=True)
        profile = client.users_info(user=user_id)["user"].get("profile") or {}
    except (SlackApiError, WorkspaceNotFound, IndexError) as err:
        log.warning("users.info for %s failed: %s", user_id, err)
        return None
    return profile.get("email")


def answer(response_url: str | None, text: str) -> None:
    """An ephemeral reply to the person who pressed (only they see it)."""
    if not response_url:
        return
    response = WebhookClient(response_url, timeout=10).send(
        text=text, response_type="ephemeral", replace_original=False
    )
    if response.status_code >= 300:
        log.warning("Slack did not take the ephemeral answer: HTTP %s %s", response.status_code, response.body)


def handle_action(action: Action, instance, *, without_webserver: bool = False) -> str | None:
    """Do what the pressed element asks; the ephemeral answer for the presser (None: say nothing)."""
    from report_pipelines.launches import LaunchError
    from report_pipelines.models import ReportValidationError
    from report_pipelines.service import reports, runs
    from report_pipelines.store import NotFound
    from report_pipelines.windows import InvalidWindow

    if action.action_id == ACTION_OPEN:
        return None
    actor = f"slack:{action.user_id}"
    try:
        report = reports.get_report(int(action.value["report"]))
        if action.action_id == ACTION_RERUN:
            key = runs.resolve_window(report, str(action.value["window"]))
            launched = runs.launch_window(report, key, force=True, trigger="slack", instance=instance,
                                          actor=actor, without_webserver=without_webserver)
            return (f"Re-running {report.name} for window {key} (run {launched.run_id[:8]}): the message "
                    f"is updated in place when it finishes. {launched.run_url}")
        choice = str(action.value["snooze"])
        if not may_snooze(report.user_id, action.user_id, user_email(action.team_id, action.user_id)):
            return (f"Only the owner of {report.name} ({report.user_id}) or someone in {ADMINS_ENV} may snooze it; "
                    "you can still re-run it.")
        report = reports.snooze_report(report.id, choice, actor=actor)
        if choice == "off":
            return f"{report.name} is snoozed until it is re-enabled (`report-pipelines reports enable {report.slug}`)."
        return f"{report.name} is snoozed until {report.snoozed_until:%Y-%m-%d %H:%M} UTC; it resumes by itself."
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, (ReportValidationError, InvalidWindow)):
            return f"Nothing done: {err}"
        return "Nothing done: this button does not name a report and window."
    except NotFound:
        return "Nothing done: that report no longer exists."
    except LaunchError as err:
        return f"The re-run could not start: {err}"
