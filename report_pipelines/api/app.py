"""The REST API: reports, Slack workspaces, runs and health over HTTP.

Served by ``report-pipelines api``. It keeps the original system's paths and payloads, backed by
the report store and Dagster: a report created here becomes a Dagster job through live sync, a
run launched here is a Dagster run queued through the webserver, and run history is read from
Dagster's run storage.

Every ``/api`` request needs ``Authorization: Bearer <JWT>`` (see :mod:`report_pipelines.api.auth`);
a user sees only their own reports, and anyone else's answer 404 exactly as a missing one does.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from contextlib import asynccontextmanager

import dagster as dg
import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from report_pipelines.api.auth import InvalidToken, jwt_secret, user_from_token
from report_pipelines.api.runs import report_runs
from report_pipelines.api.schemas import (
    Deleted,
    ErrorOut,
    HealthOut,
    ReportOut,
    ReportPayload,
    RunLaunched,
    RunOut,
    RunRequest,
    SlackTestOut,
    UpcomingRunOut,
    ValidationErrorOut,
    WorkspaceIn,
    WorkspaceOut,
)
from report_pipelines.models import Report, ReportSpec, ReportValidationError, validation_problems
from report_pipelines.report_store import (
    ReportNameTaken,
    ReportNotFound,
    ReportStore,
    ReportStoreUnavailable,
    SecretKeyError,
)

# A report file is a few KiB; 256 KiB leaves room for long SQL and refuses payloads meant to
# exhaust memory before any parsing happens.
MAX_BODY_BYTES = 256 * 1024
# Ids are SQL INTEGERs: a larger number cannot name a report, and PostgreSQL would refuse it.
MAX_REPORT_ID = 2**31 - 1
USER_SCOPE_KEY = "report_pipelines.user"
# How long a client should wait before retrying a run whose job live sync has not loaded yet
# (the sensor ticks every 15 s; the reload takes a few seconds more).
JOB_NOT_LOADED_RETRY_SECONDS = 15


class ApiError(Exception):
    """An answer other than success, with its status code and a detail that says what to do."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


class Unprocessable(Exception):
    """A request that parsed but says something we cannot do; ``loc`` names the field."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def _json_response(status_code: int, body: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body, headers=headers)


async def _send_json(send, status_code: int, body: dict, extra_headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status_code, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": payload})


class GuardMiddleware:
    """Before any routing or parsing of an ``/api`` request: a valid bearer token, then a body
    of at most MAX_BODY_BYTES (checked on the bytes received, not only on Content-Length)."""

    def __init__(self, app, secret: str):
        self.app = app
        self.secret = secret

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user = self._user(headers.get(b"authorization", b""))
        if user is None:
            # One answer for a missing, malformed, forged or expired token: the difference
            # would only help someone probing.
            await _send_json(send, 401, {"detail": "not authenticated"}, [(b"www-authenticate", b"Bearer")])
            return
        scope[USER_SCOPE_KEY] = user
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _send_json(send, 400, {"detail": "Content-Length must be a number of bytes"})
            return
        if declared is not None and int(declared) > MAX_BODY_BYTES:
            await _send_json(send, 413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"})
            return
        body = bytearray()
        more = scope["method"] not in ("GET", "HEAD", "DELETE", "OPTIONS") or declared is not None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _send_json(send, 413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"})
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _user(self, header: bytes) -> str | None:
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return user_from_token(token.strip(), secret=self.secret)
        except InvalidToken:
            return None


# Declares the bearer scheme in the OpenAPI schema (Swagger's Authorize button, schemathesis);
# the check itself happens in GuardMiddleware before the request reaches a route.
bearer = HTTPBearer(auto_error=False, description="A JWT from `report-pipelines token --user ID`.")


def current_user(request: Request, _credentials=Depends(bearer)) -> str:
    return request.scope[USER_SCOPE_KEY]


def get_store() -> ReportStore:
    return ReportStore()


class InstanceHolder:
    """One DagsterInstance (DAGSTER_HOME) for the app's lifetime, opened on first use."""

    def __init__(self):
        self._instance: dg.DagsterInstance | None = None
        self._lock = threading.Lock()

    def get(self) -> dg.DagsterInstance:
        with self._lock:
            if self._instance is None:
                self._instance = dg.DagsterInstance.get()
            return self._instance

    def close(self) -> None:
        with self._lock:
            if self._instance is not None:
                self._instance.dispose()
                self._instance = None


def get_instance(request: Request) -> dg.DagsterInstance:
    return request.app.state.instances.get()


def _report_ref_id(report_ref: str) -> int | str:
    # ASCII digits only: str.isdigit() is also true for "²", which int() refuses.
    return int(report_ref) if report_ref.isascii() and report_ref.isdigit() else report_ref


def owned_report(store: ReportStore, report_ref: str, user: str) -> Report:
    """The caller's report by id or slug; another user's report is "not found" too."""
    not_found = ApiError(404, f"no report {report_ref!r} among yours")
    ref = _report_ref_id(report_ref)
    if isinstance(ref, int) and ref > MAX_REPORT_ID:
        raise not_found
    try:
        report = store.get(ref)
    except ReportNotFound:
        raise not_found from None
    if report.user_id != user:
        raise not_found
    return report


def _out(report: Report) -> ReportOut:
    return ReportOut.model_validate(report.model_dump())


def _spec_for(payload: ReportPayload, user: str) -> ReportSpec:
    if payload.user_id is not None and payload.user_id != user:
        raise Unprocessable([(("body", "user_id"), f"must be your own user id ({user!r}) or left out")])
    return ReportSpec.model_validate({**payload.model_dump(exclude={"user_id"}), "user_id": user})


def _store_write(write, store: ReportStore, user: str):
    try:
        return write()
    except ReportNameTaken as err:
        clash = store.get(err.clash_id)
        if clash.user_id == user:
            raise Unprocessable([(("body", "name"), str(err).removeprefix("name: "))]) from None
        # Names are unique across the deployment (each is a Dagster job); someone else's
        # report is not named beyond the clash itself.
        raise ApiError(409, "name: this name is taken by another report; choose another name") from None
    except ReportValidationError as err:
        raise Unprocessable([(("body",), str(err))]) from None


REPORT_REF = Path(
    max_length=120,
    description="The report's numeric id or its slug.",
    examples=["1", "daily_sales_report"],
)

router = APIRouter(
    prefix="/api",
    dependencies=[Depends(current_user)],
    responses={
        400: {"model": ErrorOut, "description": "The body could not be read as JSON"},
        401: {"model": ErrorOut, "description": "Missing, invalid or expired bearer token"},
        413: {"model": ErrorOut, "description": "Request body too large"},
        422: {"model": ValidationErrorOut, "description": "Invalid input; each problem names its field"},
        503: {"model": ErrorOut, "description": "The report store or Dagster is unavailable"},
    },
)
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such report among yours"}}


@router.post("/scheduling/slack/workspace", status_code=201, response_model=WorkspaceOut, tags=["slack"])
def add_workspace(body: WorkspaceIn, store: ReportStore = Depends(get_store)):
    """Add or replace a Slack workspace. The bot token is stored encrypted and never returned."""
    token = body.bot_token.get_secret_value()
    if not token.startswith("xoxb-"):
        raise Unprocessable([(("body", "bot_token"), "must be a bot token starting with xoxb- "
                              "(OAuth & Permissions -> Bot User OAuth Token)")])
    try:
        workspace = store.add_workspace(body.team_id, body.team_name, token)
    except ReportValidationError as err:
        raise Unprocessable([(("body",), str(err))]) from None
    return WorkspaceOut(**workspace.__dict__, healthy=workspace.healthy)


@router.get("/scheduling/slack/workspaces", response_model=list[WorkspaceOut], tags=["slack"])
def list_workspaces(store: ReportStore = Depends(get_store)):
    """The shared Slack workspaces (never their tokens)."""
    return [WorkspaceOut(**w.__dict__, healthy=w.healthy) for w in store.workspaces()]


@router.get(
    "/scheduling/slack/test/{team_id}", response_model=SlackTestOut, tags=["slack"],
    responses={404: {"model": ErrorOut, "description": "No such workspace"}},
)
def check_workspace(
    team_id: str = Path(max_length=32),
    user: str = Depends(current_user),
    store: ReportStore = Depends(get_store),
):
    """auth.test with the workspace's token, and its scopes against what the reports need."""
    from report_pipelines.slack.delivery import SlackDelivery, SlackDeliveryError
    from report_pipelines.slack.scopes import required_scopes

    workspaces = store.workspaces()
    if team_id not in {w.team_id for w in workspaces}:
        raise ApiError(404, f"no Slack workspace {team_id!r}")
    token = store.workspace_token(team_id)
    try:
        info = SlackDelivery(token=token, team_id=team_id).auth_test()
    except SlackDeliveryError as err:
        return SlackTestOut(team_id=team_id, ok=False, error=str(err))
    granted = sorted(info.get("scopes") or [])
    needed = required_scopes(
        store.list(), team_id, only_workspace=sum(w.is_active for w in workspaces) == 1,
        name_of=lambda report: report.slug if report.user_id == user else "another user's report",
    )
    missing = {scope: why for scope, why in needed.items() if scope not in granted}
    return SlackTestOut(
        team_id=team_id, ok=not missing, team=info.get("team"), bot_user_id=info.get("user_id"),
        scopes=granted, needed=needed, missing=missing,
        error="missing scopes: add them under OAuth & Permissions and reinstall the app" if missing else None,
    )


@router.post("/scheduling/reports", status_code=201, response_model=ReportOut, tags=["reports"],
             responses={409: {"model": ErrorOut, "description": "The name is taken by another report"}})
def create_report(
    payload: ReportPayload, user: str = Depends(current_user), store: ReportStore = Depends(get_store)
):
    """Create a report; live sync turns it into a Dagster job and schedule within a minute."""
    spec = _spec_for(payload, user)
    return _out(_store_write(lambda: store.add(spec), store, user))


@router.get("/scheduling/reports", response_model=list[ReportOut], tags=["reports"])
def list_reports(user: str = Depends(current_user), store: ReportStore = Depends(get_store)):
    """Your reports."""
    return [_out(report) for report in store.list(user_id=user)]


@router.get("/scheduling/reports/{report_id}", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def get_report(report_id: str = REPORT_REF, user: str = Depends(current_user),
               store: ReportStore = Depends(get_store)):
    return _out(owned_report(store, report_id, user))


@router.put("/scheduling/reports/{report_id}", response_model=ReportOut, tags=["reports"],
            responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "The name is taken by another report"}})
def replace_report(
    payload: ReportPayload,
    report_id: str = REPORT_REF,
    user: str = Depends(current_user),
    store: ReportStore = Depends(get_store),
):
    """Replace a report with the given one (a new name gives it a new slug and job)."""
    current = owned_report(store, report_id, user)
    spec = _spec_for(payload, user)
    return _out(_store_write(lambda: store.update(current.slug, spec), store, user))


@router.delete("/scheduling/reports/{report_id}", response_model=Deleted, tags=["reports"], responses=NOT_FOUND)
def delete_report(report_id: str = REPORT_REF, user: str = Depends(current_user),
                  store: ReportStore = Depends(get_store)):
    """Delete a report; live sync removes its job and schedule. Its run history stays in Dagster."""
    report = owned_report(store, report_id, user)
    store.delete(report.slug)
    return Deleted(id=report.id, slug=report.slug)


def _toggle(report_id: str, user: str, store: ReportStore, enabled: bool) -> ReportOut:
    report = owned_report(store, report_id, user)
    return _out(store.set_enabled(report.slug, enabled))


@router.post("/scheduling/reports/{report_id}/enable", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def enable_report(report_id: str = REPORT_REF, user: str = Depends(current_user),
                  store: ReportStore = Depends(get_store)):
    """Turn the report's schedule on (this resets a stop made in the Dagster UI)."""
    return _toggle(report_id, user, store, True)


@router.post("/scheduling/reports/{report_id}/disable", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def disable_report(report_id: str = REPORT_REF, user: str = Depends(current_user),
                   store: ReportStore = Depends(get_store)):
    """Turn the report's schedule off."""
    return _toggle(report_id, user, store, False)


@router.post(
    "/scheduling/reports/{report_id}/run", status_code=202, response_model=RunLaunched, tags=["runs"],
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "The report's job is not loaded yet; retry"}},
)
def run_report(
    report_id: str = REPORT_REF,
    body: RunRequest | None = Body(default=None),
    user: str = Depends(current_user),
    store: ReportStore = Depends(get_store),
):
    """Queue a Dagster run of one window (default: the latest complete one) through the webserver."""
    from report_pipelines.jobs import InvalidWindow, ReportShape, partitions_for, resolve_partition_key
    from report_pipelines.launches import JobNotLoaded, LaunchError, WebserverUnavailable, launch_run
    from report_pipelines.names import TAG_FORCE, TAG_TRIGGER, job_name, webserver_url

    body = body or RunRequest()
    report = owned_report(store, report_id, user)
    try:
        key = resolve_partition_key(partitions_for(ReportShape.from_report(report)), body.partition_key)
    except InvalidWindow as err:
        raise Unprocessable([(("body", "partition_key"), str(err))]) from None
    tags = {TAG_TRIGGER: "api"}
    if body.force:
        tags[TAG_FORCE] = "true"
    try:
        run_id = launch_run(job_name(report.slug), key, tags)
    except JobNotLoaded:
        raise ApiError(
            409,
            f"the Dagster job of {report.slug} is not loaded yet: live sync loads a new or renamed "
            f"report within about a minute; retry in {JOB_NOT_LOADED_RETRY_SECONDS} s",
            headers={"Retry-After": str(JOB_NOT_LOADED_RETRY_SECONDS)},
        ) from None
    except WebserverUnavailable as err:
        raise ApiError(503, str(err)) from None
    except LaunchError as err:
        raise ApiError(502, str(err)) from None
    return RunLaunched(run_id=run_id, report_id=report.id, partition_key=key, status="QUEUED",
                       run_url=f"{webserver_url()}/runs/{run_id}")


@router.get("/scheduling/reports/{report_id}/runs", response_model=list[RunOut], tags=["runs"], responses=NOT_FOUND)
def list_runs(
    report_id: str = REPORT_REF,
    limit: int = Query(20, ge=1, le=200, description="How many of the latest runs."),
    user: str = Depends(current_user),
    store: ReportStore = Depends(get_store),
    instance: dg.DagsterInstance = Depends(get_instance),
):
    """The report's runs, newest first: status, window, error and Slack message ts."""
    return report_runs(instance, owned_report(store, report_id, user), limit)


@router.get("/scheduling/next-runs", response_model=list[UpcomingRunOut], tags=["runs"])
def next_runs(
    hours: int = Query(24, ge=1, le=24 * 366),
    user: str = Depends(current_user),
    store: ReportStore = Depends(get_store),
    instance: dg.DagsterInstance = Depends(get_instance),
):
    """Your reports' upcoming scheduled runs. A schedule stopped or started in the Dagster UI
    counts as the UI left it."""
    from report_pipelines.schedules import running_reports, upcoming_runs

    mine = store.list(user_id=user)
    ids = {report.slug: report.id for report in mine}
    now = dt.datetime.now(dt.timezone.utc)
    runs = upcoming_runs(running_reports(mine, instance), now, now + dt.timedelta(hours=hours))
    return [UpcomingRunOut(report_id=ids[run.slug], **run.as_dict()) for run in runs]


@router.get("/health", response_model=HealthOut, tags=["health"])
def health(instance: dg.DagsterInstance = Depends(get_instance)):
    """The checks of `report-pipelines health`, one per component; ``healthy`` is false when any
    fails. The answer is 200 either way: the checks ran, and the body says what they found."""
    from report_pipelines.definitions import shared_resources
    from report_pipelines.maintenance import run_health_checks

    resources = shared_resources()
    results = run_health_checks(instance, warehouse=resources["warehouse"], analyst=resources["analyst"])
    return HealthOut(healthy=all(r.ok for r in results),
                     checks=[{"component": r.component, "ok": r.ok, "detail": r.detail} for r in results])


def _problems(problems: list[tuple[tuple, str]], kind: str) -> dict:
    return {"detail": [{"loc": [str(p) if not isinstance(p, int) else p for p in loc], "msg": msg, "type": kind}
                       for loc, msg in problems]}


def create_app(secret: str | None = None) -> FastAPI:
    """The API app; the JWT secret defaults to REPORT_PIPELINES_JWT_SECRET (required)."""
    secret = secret or jwt_secret()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.instances.close()

    app = FastAPI(
        title="report_pipelines",
        summary="Scheduled, analysed data reports delivered to Slack, orchestrated by Dagster.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.instances = InstanceHolder()
    app.include_router(router)
    app.add_middleware(GuardMiddleware, secret=secret)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError):
        # Our wording, and never the input echoed back (it may hold a bot token).
        return _json_response(422, _problems(validation_problems(list(err.errors())), "invalid"))

    @app.exception_handler(Unprocessable)
    async def unprocessable(request: Request, err: Unprocessable):
        return _json_response(422, _problems(err.problems, "invalid"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        headers = dict(err.headers or {})
        if err.status_code == 405:
            # Each method of a path is its own route, and Starlette lists only the first
            # route's methods; Allow must name them all.
            allowed = set()
            for route in request.app.router.routes:
                if route.matches(request.scope)[0] == Match.PARTIAL:
                    allowed |= getattr(route, "methods", set())
            headers["Allow"] = ", ".join(sorted(allowed))
        return _json_response(err.status_code, {"detail": err.detail}, headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return _json_response(err.status_code, {"detail": err.detail}, err.headers)

    @app.exception_handler(ReportStoreUnavailable)
    async def store_unavailable(request: Request, err: ReportStoreUnavailable):
        return _json_response(503, {"detail": str(err)})

    @app.exception_handler(sa.exc.OperationalError)
    async def store_busy(request: Request, err: sa.exc.OperationalError):
        # A locked SQLite file or a dropped database connection: nothing was written; retrying
        # can succeed. The statement and its parameters stay out of the answer.
        cause = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        return _json_response(503, {"detail": f"the report store did not answer ({cause}); retry"},
                              {"Retry-After": "5"})

    @app.exception_handler(SecretKeyError)
    async def secret_key_error(request: Request, err: SecretKeyError):
        return _json_response(503, {"detail": str(err)})

    return app
