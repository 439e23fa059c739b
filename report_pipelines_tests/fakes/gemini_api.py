"""A local stand-in for the Gemini API, spoken to by the real ``google-genai`` SDK.

It answers ``POST /{v1,v1beta}/models/{model}:generateContent`` with the API's response shapes,
checks the ``x-goog-api-key`` header the way Google does, records every request, and plays a
queue of scripted replies — analysis JSON, broken JSON, HTTP errors, answers slower than the
client's timeout, function calls — so tests drive the SDK's own transport and error mapping::

    with FakeGemini() as gemini:
        gemini.reply(error_reply(429), analysis_reply(summary="Sales rose."))
        client = genai.Client(api_key=gemini.api_key,
                              http_options=types.HttpOptions(base_url=gemini.url))
        ...
        assert len(gemini.requests) == 2

With the queue empty every request gets :data:`DEFAULT_ANALYSIS`. Replies carry
``usageMetadata`` estimated from the request and reply text (four characters a token).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_KEY = "fake-gemini-key"
API_KEY_HEADER = "x-goog-api-key"
DEFAULT_ANALYSIS: dict[str, Any] = {
    "summary": "Revenue held steady across the window.",
    "insights": ["North led revenue."],
    "recommendations": ["Keep an eye on the South region."],
    "highlight_metrics": [],
}
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
STATUS_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_PATH = re.compile(r"^/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):generateContent$")


@dataclass
class Reply:
    """One scripted answer: candidate ``parts`` for a 200, or an ``error`` for another status.

    ``raw`` replaces the whole body (a broken response); ``delay`` holds the answer back, which
    past the client's timeout looks like a model that never answers.
    """

    status: int = 200
    parts: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "STOP"
    error: dict[str, Any] | None = None
    raw: bytes | None = None
    delay: float = 0.0


def analysis_reply(
    summary: str = DEFAULT_ANALYSIS["summary"],
    insights: Iterable[str] = DEFAULT_ANALYSIS["insights"],
    recommendations: Iterable[str] = DEFAULT_ANALYSIS["recommendations"],
    highlight_metrics: Iterable[str] = (),
    **extra: Any,
) -> Reply:
    """A structured-output answer: the JSON object as the model's text part."""
    payload = {
        "summary": summary,
        "insights": list(insights),
        "recommendations": list(recommendations),
        "highlight_metrics": list(highlight_metrics),
        **extra,
    }
    return text_reply(json.dumps(payload))


def text_reply(text: str, *, finish_reason: str = "STOP") -> Reply:
    """Plain model text: prose, or JSON cut off mid-object (``finish_reason="MAX_TOKENS"``)."""
    return Reply(parts=[{"text": text}], finish_reason=finish_reason)


def function_call_reply(*calls: tuple[str, dict[str, Any]]) -> Reply:
    """The model asking for one or more tool calls, each ``(name, args)``, in one turn."""
    parts = [
        {"functionCall": {"id": f"call-{index}", "name": name, "args": args}}
        for index, (name, args) in enumerate(calls, start=1)
    ]
    return Reply(parts=parts)


def error_reply(
    status: int, message: str | None = None, *, retry_delay: str | None = None
) -> Reply:
    """A Google error body, e.g. ``429 RESOURCE_EXHAUSTED``; ``retry_delay`` adds RetryInfo."""
    error: dict[str, Any] = {
        "code": status,
        "message": message or STATUS_MESSAGES.get(status, "Request failed."),
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if retry_delay is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        ]
    return Reply(status=status, error=error)


def slow_reply(seconds: float, then: Reply | None = None) -> Reply:
    """``then`` (default: the default analysis) held back for ``seconds``."""
    reply = then or analysis_reply()
    return Reply(
        status=reply.status,
        parts=reply.parts,
        finish_reason=reply.finish_reason,
        error=reply.error,
        raw=reply.raw,
        delay=seconds,
    )


@dataclass
class RecordedRequest:
    """One generateContent call as the server saw it, refused ones included (the API key header
    removed)."""

    model: str
    api_version: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def text(self) -> str:
        """Every text part of the conversation, in order."""
        return "\n".join(
            part["text"]
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
            if "text" in part
        )

    @property
    def system_instruction(self) -> str:
        instruction = self.body.get("systemInstruction") or {}
        return "\n".join(part.get("text", "") for part in instruction.get("parts", []))

    @property
    def has_tools(self) -> bool:
        return bool(self.body.get("tools"))

    @property
    def function_responses(self) -> list[dict[str, Any]]:
        return [
            part["functionResponse"]
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
            if "functionResponse" in part
        ]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: pytest would print it with every failing test."""

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {
            name: value for name, value in self.headers.items() if name.lower() != API_KEY_HEADER
        }
        reply, body = fake._dispatch(
            urlsplit(self.path).path, self.headers.get(API_KEY_HEADER), raw, headers
        )
        if reply.delay and fake._closing.wait(reply.delay):
            return
        try:
            self._send(reply.status, body)
        except OSError:
            # The client gave up (its timeout) before the delayed answer: nothing to deliver.
            self.close_connection = True

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeGemini) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeGemini:
    """The Gemini API on ``127.0.0.1`` at a free port, serving from a daemon thread.

    ``api_key`` is the only key accepted; ``models``, when given, are the only model names that
    exist (others answer 404 as Google does).
    """

    def __init__(
        self, api_key: str = DEFAULT_API_KEY, *, models: Iterable[str] | None = None
    ) -> None:
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeGemini:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        self._closing.clear()
        self._server = _Server(self)
        # A short poll interval keeps close() quick: shutdown waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-gemini",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        # Wake delayed handlers first, so shutting down never waits out a slow reply.
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGemini is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, *replies: Reply) -> None:
        """Queue replies; each request that passes the key and model checks takes the next one."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def _dispatch(
        self, path: str, api_key: str | None, raw: bytes, headers: dict[str, str]
    ) -> tuple[Reply, bytes]:
        match = _PATH.match(path)
        if match is None:
            return self._error(404, f"Path {path} was not found.")
        model, version = match.group("model"), match.group("version")
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        with self._lock:
            # Recorded before the checks, so tests can count the attempts a bad key made.
            self.requests.append(RecordedRequest(model, version, body or {}, headers))
        # Google checks the key before it looks at the body or the model.
        if not api_key:
            return self._error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if api_key != self.api_key:
            return self._error(400, "API key not valid. Please pass a valid API key.")
        if body is None:
            return self._error(400, "Invalid JSON payload received.")
        if self.models is not None and model not in self.models:
            return self._error(
                404,
                f"models/{model} is not found for API version {version}, or is not supported "
                "for generateContent.",
            )
        with self._lock:
            reply = self._replies.popleft() if self._replies else analysis_reply()
        if reply.raw is not None:
            return reply, reply.raw
        if reply.error is not None:
            return reply, json.dumps({"error": reply.error}).encode()
        return reply, json.dumps(self._response(model, body, reply)).encode()

    def _error(self, status: int, message: str) -> tuple[Reply, bytes]:
        reply = error_reply(status, message)
        return reply, json.dumps({"error": reply.error}).encode()

    @staticmethod
    def _response(model: str, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        prompt_chars = len(json.dumps(body.get("contents", []))) + len(
            json.dumps(body.get("systemInstruction", {}))
        )
        output_chars = len(json.dumps(reply.parts))
        prompt_tokens = math.ceil(prompt_chars / 4)
        output_tokens = math.ceil(output_chars / 4)
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": reply.parts},
                    "finishReason": reply.finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": model,
            "responseId": f"fake-{id(reply):x}",
        }
