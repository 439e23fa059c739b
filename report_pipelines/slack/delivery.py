"""Posting reports to Slack through ``slack_sdk.WebClient``, and the no-credentials preview.

Slack's failures are mapped here, at the boundary, into :class:`SlackDeliveryError` whose message
says what to do ("invite the bot to #sales"). No Dagster import: ops wrap this module.

dagster-slack is not used: its ``SlackResource`` takes the bot token as resource config (one token
per code location, shown to run config) and builds a bare ``WebClient(token)`` with no base URL and
no retry handlers. Our tokens are per workspace, stored encrypted and read in the run, and every
client needs ``SLACK_API_URL`` and the retry policy below, so ``make_client`` builds the client.

    delivery = SlackDelivery(token=bot_token, team_id="T0123")
    channel_id = delivery.resolve_channel("#sales")
    posted = delivery.post_message(channel_id, blocks, text)
"""

from __future__ import annotations

import http.client
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web import SlackResponse

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
SLACK_API_URL_ENV = "SLACK_API_URL"
CHANNEL_ID_PATTERN = re.compile(r"^[CGD][A-Z0-9]{6,}$")
USER_ID_PATTERN = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_PAGE_SIZE = 200
# Several posters sharing one channel's one-message-a-second budget each lose some races; a
# deep budget keeps every message (a 429 is the one failure where Slack certainly did nothing).
RATE_LIMIT_RETRIES = 20
# slack_sdk waits Retry-After plus up to a whole second of jitter; a tenth spreads concurrent
# posters just as well and keeps a rate-limited channel near its one-message-a-second floor.
RATE_LIMIT_JITTER_SECONDS = 0.1
CONNECTION_RETRIES = 2
SERVER_ERROR_RETRIES = 3
_SLACK_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
AUTH_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed"})
# Only a 429 proves Slack did nothing; after any other failure of these the post may exist.
_POSTING_METHODS = frozenset({"chat.postMessage", "chat.update", "files_upload_v2"})
_POST_UNCERTAIN = (
    "it was not retried and may or may not have been posted: check the channel before re-running"
)

# Channel name -> ID per (base_url, team_id). Resolving a name costs a full conversations.list
# sweep, so it is paid once per process and workspace rather than once per report run.
_channel_cache: dict[tuple[str, str], dict[str, str]] = {}
_channel_cache_lock = threading.Lock()


class SlackDeliveryError(Exception):
    """A Slack call failed; ``code`` is Slack's error code, "ratelimited" or "http_error"."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        method: str | None = None,
        status: int | None = None,
        errors: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.method = method
        self.status = status
        self.errors = list(errors)

    @property
    def may_have_posted(self) -> bool:
        """True when Slack may have acted although the call failed (no answer, or a 5xx)."""
        if self.method not in _POSTING_METHODS or self.code == "ratelimited":
            return False
        # No answer at all, or a server error: Slack may have acted before it failed.
        return self.code == "http_error" or self.status is None or self.status >= 500

    def __reduce__(self) -> tuple[Any, ...]:
        # Executors that run ops in subprocesses pickle errors; keep code and details intact.
        return (type(self), (self.code, str(self)), self.__dict__)


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str
    warnings: list[str] = field(default_factory=list)


def make_client(
    token: str, base_url: str | None = None, timeout: int = 30, *, read_only: bool = False
) -> WebClient:
    """A WebClient whose retries are safe for what it will be used for.

    The default client is for posting: only 429 is retried, because a rate-limited request is
    the one failure where Slack certainly did nothing. After a dropped connection or a 5xx the
    message may already be in the channel, and a retry would post it twice. WebClient adds a
    connection-error retry by itself when ``retry_handlers`` is None, so the list is always given.

    ``read_only=True`` is for idempotent look-ups (auth.test, conversations.list/open,
    users.lookupByEmail), which may also retry dropped connections and 500/503.
    """
    handlers: list[RetryHandler] = []
    if read_only:
        handlers += [
            ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
            ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ]
    # All handlers count against one attempt counter, so the rate-limit handler, which may wait
    # out several Retry-After periods, gets the largest budget.
    handlers.append(RetryAfterHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return WebClient(
        token=token,
        base_url=base_url or os.environ.get(SLACK_API_URL_ENV) or DEFAULT_SLACK_API_URL,
        timeout=timeout,
        retry_handlers=handlers,
    )


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """Retries 429s after exactly Retry-After plus a little jitter."""

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error
        state.next_attempt_requested = True
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        value = header[0] if isinstance(header, (list, tuple)) else header
        try:
            wait = float(value) if value is not None else 1.0
        except ValueError:
            wait = 1.0
        time.sleep(wait + random.uniform(0, RATE_LIMIT_JITTER_SECONDS))
        state.increment_current_attempt()


def clear_channel_cache() -> None:
    with _channel_cache_lock:
        _channel_cache.clear()


class SlackDelivery:
    """Channel and DM resolution, posting and file uploads for one workspace's bot token."""

    def __init__(
        self, token: str, team_id: str, base_url: str | None = None, timeout: int = 30
    ) -> None:
        url = base_url or os.environ.get(SLACK_API_URL_ENV) or DEFAULT_SLACK_API_URL
        self.base_url = url if url.endswith("/") else f"{url}/"
        self.team_id = team_id
        self._token = token
        self._post_client = make_client(token, self.base_url, timeout)
        self._read_client = make_client(token, self.base_url, timeout, read_only=True)

    def __repr__(self) -> str:
        return f"SlackDelivery(team_id={self.team_id!r}, base_url={self.base_url!r})"

    def resolve_channel(self, name_or_id: str) -> str:
        """``C…``/``G…``/``D…`` IDs pass through; ``#sales`` or ``sales`` is looked up by name."""
        ref = name_or_id.strip()
        if CHANNEL_ID_PATTERN.fullmatch(ref):
            return ref
        name = ref.removeprefix("#").lower()
        key = (self.base_url, self.team_id)
        with _channel_cache_lock:
            cached = _channel_cache.get(key)
        if cached is not None and name in cached:
            return cached[name]
        # A miss refreshes once: the channel may have been created or renamed since the last
        # sweep. Two threads missing together may both sweep; the lock only guards the dict.
        fresh = self._list_channels()
        with _channel_cache_lock:
            _channel_cache[key] = fresh
        if name in fresh:
            return fresh[name]
        raise SlackDeliveryError(
            "channel_not_found",
            f"channel #{name} not found in workspace {self.team_id}; check slack_channel "
            "(a private channel is only visible to the bot once it is invited)",
            method="conversations.list",
        )

    def user_id(self, user: str) -> str:
        """The user ID of a user ID (``U…``/``W…``) or of the email of a workspace member."""
        ref = user.strip()
        if USER_ID_PATTERN.fullmatch(ref):
            return ref
        if "@" in ref:
            with self._mapped_errors("users.lookupByEmail", email=ref):
                return self._read_client.users_lookupByEmail(email=ref)["user"]["id"]
        raise SlackDeliveryError(
            "user_not_found",
            f"{ref!r} is neither a Slack user ID (U…/W…) nor an email; check slack_user_id",
        )

    def user_gone(self, user: str) -> bool:
        """Whether a user ID or email names no active member of the workspace (deactivated, or
        not found)."""
        try:
            user_id = self.user_id(user)
            with self._mapped_errors("users.info", user=user_id):
                return bool(self._read_client.users_info(user=user_id)["user"].get("deleted"))
        except SlackDeliveryError as err:
            if err.code in ("users_not_found", "user_not_found"):
                return True
            raise

    def open_dm(self, user: str) -> str:
        """The DM channel ID for a user ID (``U…``/``W…``) or the email of a workspace member."""
        user_id = self.user_id(user)
        # conversations.open returns the existing DM when there is one, so retrying it is safe.
        with self._mapped_errors("conversations.open", user=user_id):
            response = self._read_client.conversations_open(users=user_id)
        return response["channel"]["id"]

    def post_message(
        self,
        channel_id: str,
        blocks: Sequence[Mapping[str, Any]] | None,
        text: str,
        *,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        with self._mapped_errors("chat.postMessage", channel=channel_id):
            response = self._post_client.chat_postMessage(
                channel=channel_id,
                blocks=list(blocks) if blocks else None,
                text=text,
                thread_ts=thread_ts,
                # Links from data or AI text must not pull previews into the report.
                unfurl_links=False,
                unfurl_media=False,
            )
        return PostedMessage(
            channel=response["channel"], ts=response["ts"], warnings=_warnings(response)
        )

    def update_message(
        self, channel_id: str, ts: str, blocks: Sequence[Mapping[str, Any]] | None, text: str
    ) -> PostedMessage:
        """Replace a posted message in place (chat.update): a forced re-run edits, never repeats."""
        with self._mapped_errors("chat.update", channel=channel_id):
            response = self._post_client.chat_update(
                channel=channel_id, ts=ts, blocks=list(blocks) if blocks else None, text=text
            )
        return PostedMessage(
            channel=response["channel"], ts=response["ts"], warnings=_warnings(response)
        )

    def upload_file(
        self,
        channel_id: str,
        filename: str,
        content: bytes,
        *,
        thread_ts: str | None = None,
        title: str | None = None,
        initial_comment: str | None = None,
    ) -> str:
        """Share ``content`` in the channel, in the thread of ``thread_ts``; returns the file ID."""
        with self._mapped_errors("files_upload_v2", channel=channel_id):
            response = self._post_client.files_upload_v2(
                channel=channel_id,
                filename=filename,
                content=content,
                title=title or filename,
                thread_ts=thread_ts,
                initial_comment=initial_comment,
            )
        return response["file"]["id"]

    def auth_test(self) -> dict[str, Any]:
        """Who the token belongs to, plus the scopes Slack reports it was granted."""
        with self._mapped_errors("auth.test"):
            response = self._read_client.auth_test()
        header = next(
            (value for name, value in response.headers.items() if name.lower() == "x-oauth-scopes"),
            "",
        )
        return {
            "team_id": response.get("team_id"),
            "team": response.get("team"),
            "user_id": response.get("user_id"),
            "bot_id": response.get("bot_id"),
            "scopes": [scope.strip() for scope in header.split(",") if scope.strip()],
        }

    def _list_channels(self) -> dict[str, str]:
        names: dict[str, str] = {}
        cursor: str | None = None
        with self._mapped_errors("conversations.list"):
            while True:
                response = self._read_client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=CHANNEL_PAGE_SIZE,
                    cursor=cursor,
                )
                for channel in response.get("channels") or []:
                    names[channel["name"]] = channel["id"]
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return names

    def _channel_label(self, channel_id: str) -> str:
        with _channel_cache_lock:
            names = _channel_cache.get((self.base_url, self.team_id), {})
            name = next((n for n, cid in names.items() if cid == channel_id), None)
        return f"#{name}" if name else channel_id

    @contextmanager
    def _mapped_errors(
        self,
        method: str,
        *,
        channel: str | None = None,
        email: str | None = None,
        user: str | None = None,
    ) -> Iterator[None]:
        try:
            yield
        except SlackApiError as err:
            raise self._api_error(method, err.response, channel, email, user) from err
        except (SlackClientError, OSError, http.client.HTTPException) as err:
            hint = (
                _POST_UNCERTAIN
                if method in _POSTING_METHODS
                else "check SLACK_API_URL and the network"
            )
            raise SlackDeliveryError(
                "http_error",
                f"Slack {method} failed without an answer ({self._redact(str(err))}); {hint}",
                method=method,
            ) from err

    def _api_error(
        self,
        method: str,
        response: SlackResponse,
        channel: str | None,
        email: str | None,
        user: str | None,
    ) -> SlackDeliveryError:
        data = response.data if isinstance(response.data, dict) else {}
        status = response.status_code
        error = data.get("error")
        # A non-JSON body (a proxy's HTML page) arrives as a long sentence in "error", not a code.
        code = (
            error if isinstance(error, str) and _SLACK_ERROR_CODE.fullmatch(error) else "http_error"
        )
        if status == 429:
            code = "ratelimited"
        metadata = data.get("response_metadata") or {}
        errors = [str(e) for e in data.get("errors") or metadata.get("messages") or []]
        label = self._channel_label(channel) if channel else "the channel"
        team = self.team_id
        if code == "not_in_channel":
            message = f"invite the bot to {label} (/invite @<bot name> in the channel), then retry"
        elif code == "channel_not_found":
            message = f"channel {label} not found in workspace {team}; check slack_channel"
        elif code == "is_archived":
            message = f"channel {label} is archived; unarchive it or point slack_channel elsewhere"
        elif code in AUTH_ERRORS:
            message = (
                f"the bot token for workspace {team} is invalid or revoked ({code}); "
                "run `report-pipelines workspaces add` with a new token"
            )
        elif code == "invalid_blocks":
            message = (
                f"Slack rejected the message blocks: {'; '.join(errors) or 'no details given'}"
            )
        elif code == "users_not_found":
            message = f"no Slack user with email {email} in workspace {team}; check slack_user_id"
        elif code == "user_not_found":
            message = f"no Slack user {user} in workspace {team}; check slack_user_id"
        elif code == "missing_scope":
            message = (
                f"the bot lacks the {data.get('needed', 'required')} scope in workspace {team}; "
                "add it in the Slack app settings and reinstall the app"
            )
        elif code == "ratelimited":
            message = (
                f"Slack still rate-limited {method} after {RATE_LIMIT_RETRIES} retries; retry later"
            )
        elif code == "http_error" or status != 200:
            hint = _POST_UNCERTAIN if method in _POSTING_METHODS else "try again later"
            message = f"Slack answered HTTP {status} ({code}) to {method}; {hint}"
        else:
            message = f"Slack {method} failed: {code}"
        return SlackDeliveryError(
            code, self._redact(message), method=method, status=status, errors=errors
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text


def _warnings(response: SlackResponse) -> list[str]:
    found = [w for w in str(response.get("warning") or "").split(",") if w]
    found += (response.get("response_metadata") or {}).get("warnings") or []
    return list(dict.fromkeys(found))
