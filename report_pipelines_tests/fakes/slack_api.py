"""A local stand-in for the Slack Web API, spoken to by the real ``slack_sdk.WebClient``.

It answers the methods report delivery uses with Slack's response shapes and error codes,
records every call, and can be told to rate-limit, fail or drop requests, so tests exercise the
SDK's own retry handlers and our error mapping over real HTTP::

    with FakeSlack(tokens={"xoxb-good": "T0001"}) as slack:
        client = WebClient(token="xoxb-good", base_url=slack.url)
        client.chat_postMessage(channel="C0SALES", text="hello")
        assert slack.posts[0]["text"] == "hello"

One set of channels and users serves every configured token; ``posts`` and ``files`` record the
team of the token that created them.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "xoxb-fake-token"
DEFAULT_TEAM_ID = "T0001"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
DEFAULT_SCOPES = (
    "chat:write",
    "chat:write.public",
    "channels:read",
    "groups:read",
    "im:write",
    "users:read",
    "users:read.email",
    "files:write",
)

MAX_BLOCKS = 50
MAX_HEADER_TEXT = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_MESSAGE_TEXT = 40_000
BLOCK_TYPES = frozenset(
    {"header", "section", "divider", "context", "actions", "image", "rich_text", "table"}
)
TEXT_TYPES = ("plain_text", "mrkdwn")
LIST_TYPES = frozenset({"public_channel", "private_channel", "im"})
# Slack timestamps are seconds with microseconds; posts 100 µs apart keep them unique and ordered.
_TS_ORIGIN_US = 1_700_000_000_000_000
_TS_STEP_US = 100


class _SlackError(Exception):
    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _channel(
    id: str,
    name: str,
    *,
    is_private: bool,
    is_member: bool,
    is_archived: bool,
    im_user: str | None = None,
) -> dict[str, Any]:
    """A conversation as conversations.list shows it; ``im_user`` makes it a DM with that user."""
    channel = {
        "id": id,
        "name": name,
        "is_channel": not is_private,
        "is_im": im_user is not None,
        "is_private": is_private,
        "is_member": is_member,
        "is_archived": is_archived,
    }
    if im_user is not None:
        channel.update(is_channel=False, user=im_user)
    return channel


def _block_errors(blocks: list[Any]) -> list[str]:
    """Slack's ``invalid_blocks`` messages, each ending in the JSON pointer of the bad value."""
    errors: list[str] = []

    def fail(message: str, pointer: str) -> None:
        errors.append(f"{message} [json-pointer:{pointer}]")

    def check_text(obj: Any, at: str, limit: int, types: tuple[str, ...] = TEXT_TYPES) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in types:
            fail(f"must be a text object of type {' or '.join(types)}", f"{at}/type")
        elif not isinstance(obj.get("text"), str) or not obj["text"]:
            fail("must be more than 0 characters", f"{at}/text")
        elif len(obj["text"]) > limit:
            fail(f"must be less than {limit + 1} characters", f"{at}/text")

    def check_items(items: Any, at: str, limit: int) -> bool:
        if not isinstance(items, list) or not items:
            fail("must provide at least 1 item", at)
        elif len(items) > limit:
            fail(f"no more than {limit} items allowed", at)
        else:
            return True
        return False

    if len(blocks) > MAX_BLOCKS:
        fail(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
    tables = 0
    for index, block in enumerate(blocks):
        at = f"/blocks/{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            fail(f"unsupported type: {kind}", f"{at}/type")
        elif kind == "header":
            check_text(block.get("text"), f"{at}/text", MAX_HEADER_TEXT, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                fail("must provide either text or fields", at)
            if "text" in block:
                check_text(block["text"], f"{at}/text", MAX_SECTION_TEXT)
            if "fields" in block and check_items(block["fields"], f"{at}/fields", MAX_FIELDS):
                for number, item in enumerate(block["fields"]):
                    check_text(item, f"{at}/fields/{number}", MAX_FIELD_TEXT)
        elif kind == "context":
            elements = block.get("elements")
            if check_items(elements, f"{at}/elements", MAX_CONTEXT_ELEMENTS):
                for number, element in enumerate(elements):
                    if not (isinstance(element, dict) and element.get("type") == "image"):
                        check_text(element, f"{at}/elements/{number}", MAX_SECTION_TEXT)
        elif kind == "table":
            tables += 1
            if tables > 1:
                fail("only one table allowed per message", at)
            if check_items(block.get("rows"), f"{at}/rows", MAX_TABLE_ROWS):
                for number, row in enumerate(block["rows"]):
                    check_items(row, f"{at}/rows/{number}", MAX_TABLE_CELLS)
    return errors


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: pytest would print it with every failing test."""

    def do_POST(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/upload/"):
            status, text = fake._receive_upload(path.removeprefix("/upload/"), body)
            self._send(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
            return
        if path.startswith("/response/"):
            # An interaction's response_url: Slack answers "ok" in plain text.
            fake._receive_response(path.removeprefix("/response/"), json.loads(body or b"{}"))
            self._send(200, b"ok", {"Content-Type": "text/plain; charset=utf-8"})
            return
        if self.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(body or b"{}")
        else:
            params = dict(parse_qsl(body.decode("utf-8")))
        authorization = self.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        reply = fake._dispatch(path.removeprefix("/api/"), params, token)
        if reply is None:
            # Closing without an answer is what a dropped connection looks like to the client.
            self.close_connection = True
            return
        headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
        self._send(reply.status, json.dumps(reply.body).encode(), headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeSlack:
    """A Slack workspace on 127.0.0.1; ``url`` is the ``base_url`` to give ``WebClient``."""

    def __init__(
        self,
        tokens: dict[str, str] | None = None,
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        with_defaults: bool = True,
    ) -> None:
        self.scopes = list(scopes)
        self._tokens = dict(tokens if tokens is not None else {DEFAULT_TOKEN: DEFAULT_TEAM_ID})
        self._revoked: set[str] = set()
        self._lock = threading.Lock()
        self._channels: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._dms: dict[str, str] = {}
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._posts: list[dict[str, Any]] = []
        self._files: list[dict[str, Any]] = []
        self._uploads: dict[str, dict[str, Any]] = {}
        self._serial = 0
        self._rate_limited: dict[str, deque[int]] = defaultdict(deque)
        self._failures: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
        self._drops: Counter[str] = Counter()
        self._responses: list[dict[str, Any]] = []
        self._intervals: dict[str, float] = {}
        self._last_accepted: dict[str, float] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods = {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "conversations.open": self._conversations_open,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.info": self._users_info,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "apps.connections.open": self._apps_connections_open,
        }
        # Where apps.connections.open sends a Socket Mode client (a FakeSocketMode's url).
        self.socket_mode_url: str | None = None
        if with_defaults:
            self.add_channel("C0GENERAL", "general")
            self.add_channel("C0SALES", "sales")
            self.add_user("U0ALICE", email="alice@example.com")
            self.add_user("U0BOB", email="bob@example.com")

    def start(self) -> FakeSlack:
        self._server = _Server(self)
        # A short poll interval keeps stop(), and so every test's teardown, quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not running: use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def add_channel(
        self,
        id: str,
        name: str,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> None:
        with self._lock:
            self._channels[id] = _channel(
                id, name, is_private=is_private, is_member=is_member, is_archived=is_archived
            )

    def add_token(self, token: str, team: str) -> None:
        with self._lock:
            self._tokens[token] = team

    def response_url(self, name: str) -> str:
        """A response_url for an interaction payload; what is posted to it lands in ``responses``."""
        return f"{self.url.rstrip('/').removesuffix('/api')}/response/{name}"

    def _receive_response(self, name: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._responses.append({"name": name, **body})

    @property
    def responses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._responses]

    def add_user(self, id: str, email: str | None = None, deleted: bool = False) -> None:
        with self._lock:
            self._users[id] = {"id": id, "name": id.lower(), "deleted": deleted, "profile": {"email": email}}

    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._rate_limited[method].extend([retry_after] * times)

    def set_rate(self, method: str, per_second: float = 1.0) -> None:
        """Calls of ``method`` closer together than ``1 / per_second`` seconds answer 429."""
        with self._lock:
            self._intervals[method] = 1.0 / per_second

    def fail_next(
        self, method: str, error: str = "internal_error", status: int = 500, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[method].extend([(error, status)] * times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls are carried out, then the connection closes unanswered.

        This is what makes retrying a post unsafe: Slack acted, the client never heard.
        """
        with self._lock:
            self._drops[method] += times

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    @property
    def posts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(post) for post in self._posts]

    @property
    def files(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._files]

    def _dispatch(self, method: str, params: dict[str, Any], token: str) -> _Reply | None:
        with self._lock:
            self._calls.append((method, dict(params)))
            reply = self._injected_reply(method) or self._answer(method, params, token)
            if self._drops[method] > 0:
                self._drops[method] -= 1
                return None
            return reply

    def _injected_reply(self, method: str) -> _Reply | None:
        if self._rate_limited[method]:
            retry_after = self._rate_limited[method].popleft()
            return _Reply(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
            )
        if self._failures[method]:
            error, status = self._failures[method].popleft()
            return _Reply(status, {"ok": False, "error": error})
        interval = self._intervals.get(method)
        if interval is not None:
            now = time.monotonic()
            last = self._last_accepted.get(method)
            if last is not None and now - last < interval:
                # Slack sends whole seconds; rounding down would invite an immediate second 429.
                wait = max(1, math.ceil(interval - (now - last)))
                return _Reply(
                    429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
                )
            self._last_accepted[method] = now
        return None

    def _answer(self, method: str, params: dict[str, Any], token: str) -> _Reply:
        handler = self._methods.get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        team = self._tokens.get(token)
        if team is None:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        if token in self._revoked:
            return _Reply(200, {"ok": False, "error": "token_revoked"})
        if (method == "apps.connections.open") != token.startswith("xapp-"):
            # App-level tokens open Socket Mode connections and do nothing else, as on Slack.
            return _Reply(200, {"ok": False, "error": "not_allowed_token_type"})
        headers = {"x-oauth-scopes": ",".join(self.scopes)}
        try:
            return _Reply(200, {"ok": True, **handler(params, team)}, headers)
        except _SlackError as err:
            return _Reply(200, {"ok": False, "error": err.code, **err.extra}, headers)

    def _require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _SlackError("missing_scope", needed=scope, provided=",".join(self.scopes))

    def _writable_channel(self, ref: Any) -> dict[str, Any]:
        name = str(ref or "").removeprefix("#")
        channel = self._channels.get(str(ref)) or next(
            (c for c in self._channels.values() if c["name"] == name and not c["is_im"]), None
        )
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel["is_archived"]:
            raise _SlackError("is_archived")
        # chat:write.public lets a bot post in public channels it has not joined, never private.
        if not channel["is_member"] and (
            channel["is_private"] or "chat:write.public" not in self.scopes
        ):
            raise _SlackError("not_in_channel")
        return channel

    def _message_content(self, params: dict[str, Any]) -> tuple[str, list[Any], list[str]]:
        text = params.get("text") or ""
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):  # form-encoded calls send blocks as a JSON string
            blocks = json.loads(blocks)
        if not text and not blocks:
            raise _SlackError("no_text")
        errors = _block_errors(blocks)
        if errors:
            messages = [f"[ERROR] {error}" for error in errors]
            raise _SlackError(
                "invalid_blocks", errors=errors, response_metadata={"messages": messages}
            )
        if len(text) > MAX_MESSAGE_TEXT:
            return text[:MAX_MESSAGE_TEXT], blocks, ["message_truncated"]
        return text, blocks, []

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _apps_connections_open(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        if not self.socket_mode_url:
            raise _SlackError("internal_error")
        return {"url": self.socket_mode_url}

    def _auth_test(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        return {
            "url": f"https://{team.lower()}.slack.com/",
            "team": f"Workspace {team}",
            "user": "reportbot",
            "team_id": team,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _conversations_list(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        if not types <= LIST_TYPES:
            raise _SlackError("invalid_types")
        try:
            limit = int(params.get("limit") or 100)
            cursor = params.get("cursor")
            start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
        except ValueError:
            raise _SlackError("invalid_cursor") from None
        exclude_archived = params.get("exclude_archived") in (True, "1", "true")

        def listed(channel: dict[str, Any]) -> bool:
            if channel["is_im"]:
                return "im" in types
            kind = "private_channel" if channel["is_private"] else "public_channel"
            # Slack lists a private channel to its members only: an uninvited bot cannot see it.
            hidden = channel["is_private"] and not channel["is_member"]
            return (
                kind in types and not hidden and not (exclude_archived and channel["is_archived"])
            )

        visible = [dict(c) for c in self._channels.values() if listed(c)]
        end = start + max(1, min(limit, 1000))
        next_cursor = (
            base64.b64encode(f"next:{end}".encode()).decode() if end < len(visible) else ""
        )
        return {"channels": visible[start:end], "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_open(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("im:write")
        user = str(params.get("users") or "")
        if not user:
            raise _SlackError("users_list_not_supplied")
        if user not in self._users:
            raise _SlackError("user_not_found")
        if user in self._dms:
            return {"no_op": True, "already_open": True, "channel": {"id": self._dms[user]}}
        dm_id = self._dms[user] = f"D{len(self._dms) + 1:08d}"
        self._channels[dm_id] = _channel(
            dm_id, "", is_private=True, is_member=True, is_archived=False, im_user=user
        )
        return {"channel": {"id": dm_id}}

    def _users_lookup_by_email(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("users:read.email")
        email = str(params.get("email") or "").lower()
        for user in self._users.values():
            if email and (user["profile"]["email"] or "").lower() == email:
                return {"user": {**user, "team_id": team}}
        raise _SlackError("users_not_found")

    def _users_info(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("users:read")
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": {**user, "team_id": team}}

    def _chat_post_message(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("chat:write")
        channel = self._writable_channel(params.get("channel"))["id"]
        text, blocks, warnings = self._message_content(params)
        micros = _TS_ORIGIN_US + self._next_serial() * _TS_STEP_US
        ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        thread_ts = params.get("thread_ts") or None
        post = {
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "ts": ts,
            "thread_ts": thread_ts,
            "team": team,
        }
        self._posts.append(post)
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, **post}
        reply: dict[str, Any] = {"channel": channel, "ts": ts, "message": message}
        if warnings:
            reply.update(warning=",".join(warnings), response_metadata={"warnings": warnings})
        return reply

    def _chat_update(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("chat:write")
        channel = self._writable_channel(params.get("channel"))["id"]
        post = next(
            (p for p in self._posts if p["channel"] == channel and p["ts"] == params.get("ts")),
            None,
        )
        if post is None:
            raise _SlackError("message_not_found")
        text, blocks, _ = self._message_content(params)
        post.update(text=text, blocks=blocks)
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, **post}
        return {"channel": channel, "ts": post["ts"], "text": text, "message": message}

    def _files_get_upload_url(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("files:write")
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            raise _SlackError("invalid_arguments")
        file_id = f"F{self._next_serial():08d}"
        self._uploads[file_id] = {"id": file_id, "filename": params["filename"], "bytes": None}
        return {
            "upload_url": f"{self.url.removesuffix('/api/')}/upload/{file_id}",
            "file_id": file_id,
        }

    def _receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        with self._lock:
            if file_id not in self._uploads:
                return 404, "Not Found"
            self._uploads[file_id]["bytes"] = content
            return 200, f"OK - {len(content)}"

    def _files_complete_upload(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("files:write")
        requested = json.loads(params.get("files") or "[]")
        uploads = [self._uploads.get(item.get("id")) for item in requested]
        if not requested or any(upload is None or upload["bytes"] is None for upload in uploads):
            raise _SlackError("file_not_found")
        channel_id = params.get("channel_id") or None
        if channel_id:
            channel_id = self._writable_channel(channel_id)["id"]
        completed = []
        for item, upload in zip(requested, uploads, strict=True):
            del self._uploads[upload["id"]]
            self._files.append(
                {
                    **upload,
                    "title": item.get("title") or upload["filename"],
                    "team": team,
                    "channel_id": channel_id,
                    "thread_ts": params.get("thread_ts") or None,
                    "initial_comment": params.get("initial_comment"),
                }
            )
            completed.append(
                {"id": upload["id"], "name": upload["filename"], "title": item.get("title")}
            )
        return {"files": completed}
