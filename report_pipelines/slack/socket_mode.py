"""Socket Mode: the same buttons without a public URL (``report-pipelines slack-listen``).

slack_sdk's ``SocketModeClient`` opens a WebSocket with the app-level token
(``SLACK_APP_TOKEN``, ``xapp-…``; apps.connections.open). Slack pushes each interaction or event
as an envelope, which is acknowledged at once (Slack waits 3 seconds) and then handled exactly as
``POST /slack/interactions`` handles it (:mod:`report_pipelines.slack.interactive`): the same
actions, the same once-only rule, the same ephemeral answers. Envelopes need no signature: the
connection itself is authenticated by the app token.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from report_pipelines.slack import interactive
from report_pipelines.slack.delivery import make_client
from report_pipelines.slack.scopes import APP_TOKEN_ENV
log = logging.getLogger(__name__)


class SocketModeConfigError(ValueError):
    """The app-level token is missing or is not one."""


def app_token() -> str:
    token = os.environ.get(APP_TOKEN_ENV, "").strip()
    if not token.startswith("xapp-"):
        raise SocketModeConfigError(
            f"{APP_TOKEN_ENV} must be an app-level token (xapp-…, Basic Information → App-Level Tokens, "
            "scope connections:write)" + ("" if token else "; it is not set")
        )
    return token


def on_request(instance_of: Callable) -> Callable[[SocketModeClient, SocketModeRequest], None]:
    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type == "interactive":
            for action in interactive.new_actions(request.payload or {}):
                # A CLI process, like `report-pipelines run`: with no webserver, runs start on the instance.
                interactive.act(action, instance_of, without_webserver=True)
        elif request.type == "events_api":
            question = interactive.new_question(request.payload or {})
            if question is not None:
                interactive.ask(question, instance_of, without_webserver=True)

    return listener


def listen(token: str, instance_of: Callable, stop: threading.Event) -> None:
    """Connect and handle envelopes until ``stop`` is set."""
    # apps.connections.open goes to SLACK_API_URL like every other Web API call.
    client = SocketModeClient(app_token=token, web_client=make_client(token, read_only=True))
    client.socket_mode_request_listeners.append(on_request(instance_of))
    client.connect()
    log.info("connected to Slack in Socket Mode")
    try:
        stop.wait()
    finally:
        client.close()
