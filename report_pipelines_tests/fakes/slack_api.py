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
from collections import defaultdict, deque
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
    "im:read",
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
MAX_ACTIONS_ELEMENTS = 25
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_MESSAGE_TEXT = 40_000
BLOCK_TYPES = frozenset(
    {"header", "section", "divider", "context", "actions", "image", "rich_text", "table"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_LIST_TYPE_SCOPES = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "im": "im:read",
}
# Slack timestamps are seconds with microseconds; spacing posts 100 µs apart keeps them unique.
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


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _block_errors(blocks: list[Any]) -> list[str]:
    """Slack's ``invalid_blocks`` messages, each ending in the JSON pointer of the bad value."""
    errors: list[tuple[str, str]] = []

    def text_object(obj: Any, at: str, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            errors.append(("must be a text object", at))
        elif obj.get("type") not in (("plain_text",) if plain_only else TEXT_TYPES):
            errors.append(
                (f"must be {'plain_text' if plain_only else 'plain_text or mrkdwn'}", f"{at}/type")
            )
        elif not isinstance(obj.get("text"), str) or not obj["text"]:
            errors.append(("must be more than 0 characters", f"{at}/text"))
        elif len(obj["text"]) > limit:
            errors.append((f"must be less than {limit + 1} characters", f"{at}/text"))

    if len(blocks) > MAX_BLOCKS:
        errors.append((f"no more than {MAX_BLOCKS} items allowed", "/blocks"))
    tables = 0
    for index, block in enumerate(blocks):
        at = f"/blocks/{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            errors.append((f"unsupported type: {kind}", f"{at}/type"))
            continue
        if kind == "header":
            text_object(block.get("text"), f"{at}/text", MAX_HEADER_TEXT, plain_only=True)
        elif kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                errors.append(("must provide either text or fields", at))
            if "text" in block:
                text_object(block["text"], f"{at}/text", MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
                    errors.append((f"no more than {MAX_FIELDS} items allowed", f"{at}/fields"))
                else:
                    for number, item in enumerate(fields):
                        text_object(item, f"{at}/fields/{number}", MAX_FIELD_TEXT)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                errors.append((f"must provide 1 to {MAX_CONTEXT_ELEMENTS} items", f"{at}/elements"))
            else:
                for number, element in enumerate(elements):
                    if isinstance(element, dict) and element.get("type") == "image":
                        continue
                    text_object(element, f"{at}/elements/{number}", MAX_SECTION_TEXT)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
                errors.append((f"must provide 1 to {MAX_ACTIONS_ELEMENTS} items", f"{at}/elements"))
        elif kind == "image":
            for required in ("image_url", "alt_text"):
                if not block.get(required) and not (
                    required == "image_url" and block.get("slack_file")
                ):
                    errors.append((f"missing required field: {required}", at))
        elif kind == "table":
            tables += 1
            if tables > 1:
                errors.append(("only one table allowed per message", at))
            rows = block.get("rows")
            if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_TABLE_ROWS:
                errors.append((f"must provide 1 to {MAX_TABLE_ROWS} items", f"{at}/rows"))
            else:
                for number, row in enumerate(rows):
                    if not isinstance(row, list) or len(row) > MAX_TABLE_CELLS:
                        errors.append(
                            (f"no more than {MAX_TABLE_CELLS} items allowed", f"{at}/rows/{number}")
                        )
    return [f"{message} [json-pointer:{pointer}]" for message, pointer in errors]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: pytest would show it for every failing test."""

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if parts.path.startswith("/upload/"):
            status, text = fake._receive_upload(parts.path.removeprefix("/upload/"), body)
            self._send(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
            return
        if not parts.path.startswith("/api/"):
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        params: dict[str, Any] = dict(parse_qsl(parts.query))
        content_type = self.headers.get("Content-Type", "")
        try:
            if content_type.startswith("application/json"):
                params.update(json.loads(body or b"{}"))
            else:
                params.update(parse_qsl(body.decode("utf-8")))
        except (ValueError, TypeError):
            params = {"__unparsable_body__": True}
        authorization = self.headers.get("Authorization", "")
        token = (
            authorization.removeprefix("Bearer ").strip()
            if authorization.startswith("Bearer ")
            else None
        )
        token = token or params.pop("token", None)
        reply = fake._dispatch(parts.path.removeprefix("/api/"), params, token)
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
    """A Slack workspace on 127.0.0.1: ``url`` is the ``base_url`` to give ``WebClient``."""

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
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._ts_counter = 0
        self._file_counter = 0
        self._rate_limited: dict[str, deque[int]] = defaultdict(deque)
        self._failures: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
        self._drops: dict[str, int] = defaultdict(int)
        self._intervals: dict[str, float] = {}
        self._last_accepted: dict[str, float] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods = {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "conversations.open": self._conversations_open,
            "users.lookupByEmail": self._users_lookup_by_email,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        if with_defaults:
            self.add_channel("C0GENERAL", "general")
            self.add_channel("C0SALES", "sales")
            self.add_user("U0ALICE", email="alice@example.com", name="alice")
            self.add_user("U0BOB", email="bob@example.com", name="bob")

    def start(self) -> FakeSlack:
        self._server = _Server(self)
        # A short poll interval keeps stop() (and so every test's teardown) quick.
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
            raise RuntimeError(
                "FakeSlack is not running: use it as a context manager or call start()"
            )
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
            self._channels[id] = {
                "id": id,
                "name": name,
                "name_normalized": name,
                "is_channel": not is_private,
                "is_group": False,
                "is_im": False,
                "is_private": is_private,
                "is_member": is_member,
                "is_archived": is_archived,
            }

    def add_user(self, id: str, email: str | None = None, name: str | None = None) -> None:
        with self._lock:
            self._users[id] = {
                "id": id,
                "name": name or id.lower(),
                "deleted": False,
                "is_bot": False,
                "profile": {"email": email} if email else {},
            }

    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._rate_limited[method].extend([retry_after] * times)

    def set_rate(self, method: str, per_second: float = 1.0) -> None:
        """Calls of ``method`` arriving faster than ``per_second`` answer 429 until the gap passes."""
        with self._lock:
            self._intervals[method] = 1.0 / per_second

    def fail_next(
        self, method: str, error: str = "internal_error", status: int = 500, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[method].extend([(error, status)] * times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls are carried out, then the connection closes unanswered.

        This is the case that makes retrying a post unsafe: Slack acted, the client never heard.
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

    def _dispatch(self, method: str, params: dict[str, Any], token: str | None) -> _Reply | None:
        with self._lock:
            self._calls.append((method, dict(params)))
            reply = self._injected_reply(method)
            if reply is None:
                reply = self._answer(method, params, token)
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

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> _Reply:
        handler = self._methods.get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        if params.get("__unparsable_body__"):
            return _Reply(200, {"ok": False, "error": "invalid_json"})
        team = self._tokens.get(token or "")
        if team is None:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        if token in self._revoked:
            return _Reply(200, {"ok": False, "error": "token_revoked"})
        headers = {"x-oauth-scopes": ",".join(self.scopes)}
        try:
            return _Reply(200, {"ok": True, **handler(params, team)}, headers)
        except _SlackError as err:
            return _Reply(200, {"ok": False, "error": err.code, **err.extra}, headers)

    def _require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _SlackError("missing_scope", needed=scope, provided=",".join(self.scopes))

    def _find_channel(self, ref: Any) -> dict[str, Any] | None:
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self._channels:
            return self._channels[ref]
        name = ref.removeprefix("#")
        return next(
            (c for c in self._channels.values() if not c["is_im"] and c["name"] == name), None
        )

    def _writable_channel(self, ref: Any) -> dict[str, Any]:
        channel = self._find_channel(ref)
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel["is_archived"]:
            raise _SlackError("is_archived")
        # chat:write.public lets a bot post in public channels it has not joined; never private ones.
        if not channel["is_member"] and (
            channel["is_private"] or "chat:write.public" not in self.scopes
        ):
            raise _SlackError("not_in_channel")
        return channel

    def _message_content(self, params: dict[str, Any]) -> tuple[str, list[Any], list[str]]:
        text = params.get("text") or ""
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise _SlackError("invalid_blocks_format") from None
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks_format")
        if not text and not blocks and not params.get("attachments"):
            raise _SlackError("no_text")
        errors = _block_errors(blocks)
        if errors:
            raise _SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        warnings = []
        if len(text) > MAX_MESSAGE_TEXT:
            text = text[:MAX_MESSAGE_TEXT]
            warnings.append("message_truncated")
        return text, blocks, warnings

    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = _TS_ORIGIN_US + self._ts_counter * _TS_STEP_US
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _auth_test(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        return {
            "url": f"https://{team.lower()}.slack.com/",
            "team": f"Workspace {team}",
            "user": "reportbot",
            "team_id": team,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversations_list(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        types = [
            t.strip() for t in str(params.get("types") or "public_channel").split(",") if t.strip()
        ]
        if any(t not in _LIST_TYPE_SCOPES for t in types):
            raise _SlackError("invalid_types")
        for kind in types:
            self._require(_LIST_TYPE_SCOPES[kind])
        try:
            limit = int(params.get("limit") or 100)
            start = (
                int(base64.b64decode(params["cursor"]).decode().removeprefix("offset:"))
                if params.get("cursor")
                else 0
            )
        except ValueError:
            raise _SlackError("invalid_cursor") from None
        if not 1 <= limit <= 1000:
            raise _SlackError("invalid_limit")
        exclude_archived = _truthy(params.get("exclude_archived"))

        def listed(channel: dict[str, Any]) -> bool:
            kind = (
                "im"
                if channel["is_im"]
                else "private_channel"
                if channel["is_private"]
                else "public_channel"
            )
            # Slack lists a private channel only to its members, so an uninvited bot cannot see it.
            hidden = channel["is_private"] and not channel["is_member"]
            return (
                kind in types and not hidden and not (exclude_archived and channel["is_archived"])
            )

        visible = [dict(c) for c in self._channels.values() if listed(c)]
        end = start + limit
        next_cursor = (
            base64.b64encode(f"offset:{end}".encode()).decode() if end < len(visible) else ""
        )
        return {"channels": visible[start:end], "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_open(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("im:write")
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise _SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] the fake opens 1:1 DMs only"]},
            )
        user = users[0]
        if user not in self._users:
            raise _SlackError("user_not_found")
        if user in self._dms:
            return {"no_op": True, "already_open": True, "channel": {"id": self._dms[user]}}
        dm_id = f"D{len(self._dms) + 1:08d}"
        self._dms[user] = dm_id
        self._channels[dm_id] = {
            "id": dm_id,
            "name": "",
            "is_im": True,
            "user": user,
            "is_private": True,
            "is_member": True,
            "is_archived": False,
        }
        return {"channel": {"id": dm_id}}

    def _users_lookup_by_email(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("users:read.email")
        email = str(params.get("email") or "").strip().lower()
        if not email:
            raise _SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: email"]},
            )
        for user in self._users.values():
            if (user["profile"].get("email") or "").lower() == email:
                return {"user": {**user, "team_id": team}}
        raise _SlackError("users_not_found")

    def _chat_post_message(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("chat:write")
        channel = self._writable_channel(params.get("channel"))
        text, blocks, warnings = self._message_content(params)
        ts = self._next_ts()
        thread_ts = params.get("thread_ts") or None
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": team,
            "text": text,
            "ts": ts,
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
        self._posts.append(
            {
                "channel": channel["id"],
                "text": text,
                "blocks": blocks,
                "ts": ts,
                "thread_ts": thread_ts,
                "team": team,
            }
        )
        reply: dict[str, Any] = {"channel": channel["id"], "ts": ts, "message": message}
        if warnings:
            reply["warning"] = ",".join(warnings)
            reply["response_metadata"] = {"warnings": warnings}
        return reply

    def _chat_update(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("chat:write")
        channel = self._find_channel(params.get("channel"))
        if channel is None:
            raise _SlackError("channel_not_found")
        post = next(
            (
                p
                for p in self._posts
                if p["channel"] == channel["id"] and p["ts"] == params.get("ts")
            ),
            None,
        )
        if post is None:
            raise _SlackError("message_not_found")
        text, blocks, _ = self._message_content(params)
        post.update(text=text, blocks=blocks, edited=True)
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": text,
            "blocks": blocks,
        }
        return {"channel": channel["id"], "ts": post["ts"], "text": text, "message": message}

    def _files_get_upload_url(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("files:write")
        try:
            length = int(params.get("length", ""))
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        if not params.get("filename"):
            raise _SlackError("invalid_arguments")
        self._file_counter += 1
        file_id = f"F{self._file_counter:08d}"
        self._pending_files[file_id] = {
            "id": file_id,
            "filename": params["filename"],
            "length": length,
            "bytes": None,
            "team": team,
        }
        upload_url = f"{self.url.removesuffix('/api/')}/upload/{file_id}"
        return {"upload_url": upload_url, "file_id": file_id}

    def _receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        with self._lock:
            pending = self._pending_files.get(file_id)
            if pending is None:
                return 404, "Not Found"
            pending["bytes"] = content
            return 200, f"OK - {len(content)}"

    def _files_complete_upload(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        self._require("files:write")
        try:
            requested = json.loads(params.get("files") or "[]")
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        pending = [self._pending_files.get(item.get("id")) for item in requested]
        if not requested or any(p is None or p["bytes"] is None for p in pending):
            raise _SlackError("file_not_found")
        channel_id = params.get("channel_id") or None
        if channel_id:
            channel_id = self._writable_channel(channel_id)["id"]
        completed = []
        for item, upload in zip(requested, pending):
            del self._pending_files[upload["id"]]
            record = {
                **upload,
                "title": item.get("title") or upload["filename"],
                "channel_id": channel_id,
                "thread_ts": params.get("thread_ts") or None,
                "initial_comment": params.get("initial_comment"),
            }
            self._files.append(record)
            completed.append(
                {"id": record["id"], "name": record["filename"], "title": record["title"]}
            )
        return {"files": completed}
