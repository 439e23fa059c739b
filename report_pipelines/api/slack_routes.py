"""``POST /slack/interactions`` and ``POST /slack/events``: Slack calling the API server.

No bearer token here: Slack signs each request with the app's signing secret, and a request
whose signature does not verify (or is older than five minutes) is answered 401 and does
nothing. Slack wants an answer within 3 seconds, so the answer goes first and the work runs
after it (a background task); a request id seen before (Slack's retries, a double press) is
acknowledged and not acted on again.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response

from report_pipelines.slack import interactive
from report_pipelines.slack.interactive import SlackRequestRejected

router = APIRouter(prefix="/slack", tags=["slack"])


async def _verified_body(request: Request) -> bytes:
    body = await request.body()
    interactive.verify(body, request.headers)
    return body


def _rejected(err: SlackRequestRejected) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=401)


@router.post("/interactions", responses={401: {"description": "Not signed by Slack, or stale"}})
async def slack_interactions(request: Request, background: BackgroundTasks):
    """Button presses and menu choices on report messages (Re-run, Snooze, Open in Dagster)."""
    try:
        payload = interactive.interaction_payload(await _verified_body(request))
    except SlackRequestRejected as err:
        return _rejected(err)
    for action in interactive.new_actions(payload):
        background.add_task(interactive.act, action, request.app.state.instances.get)
    return Response(status_code=200)


@router.post("/events", responses={401: {"description": "Not signed by Slack, or stale"}})
async def slack_events(request: Request, background: BackgroundTasks):
    """The Events API: Slack's url_verification, and questions asked in a report message's thread
    (each answered by a run of the ``thread_question`` job; a retry is not asked twice)."""
    try:
        body = await _verified_body(request)
    except SlackRequestRejected as err:
        return _rejected(err)
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
    if event.get("type") == "url_verification":
        return JSONResponse({"challenge": event.get("challenge", "")})
    question = interactive.new_question(event)
    if question is not None:
        background.add_task(interactive.ask, question, request.app.state.instances.get)
    return Response(status_code=200)
