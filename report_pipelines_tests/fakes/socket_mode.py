"""Slack's Socket Mode WebSocket on 127.0.0.1, for slack_sdk's SocketModeClient.

Like Slack, it greets each connection with ``hello``, pushes envelopes (``push``) and expects
each to be acknowledged with its ``envelope_id`` (``acks``). Give its ``url`` to
``FakeSlack.socket_mode_url`` so apps.connections.open hands it out.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.sync.server import ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[ServerConnection] = []
        self._acks: list[dict[str, Any]] = []
        self._server = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeSocketMode:
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=local"

    @property
    def acks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._acks)

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0REPORTS"}}))
        with self._lock:
            self._connections.append(connection)
        for message in connection:
            data = json.loads(message)
            if "envelope_id" in data:
                with self._lock:
                    self._acks.append(data)

    def wait_connected(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._connections:
                    return
            time.sleep(0.1)
        raise AssertionError(f"no Socket Mode client connected within {timeout} s")

    def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope (``interactive``, ``events_api`` …) to the newest connection."""
        envelope_id = str(uuid.uuid4())
        with self._lock:
            connection = self._connections[-1]
        connection.send(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": False, "retry_attempt": 0}))
        return envelope_id
