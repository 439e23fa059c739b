"""The REST API: reports, Slack workspaces, runs and health over HTTP.

Served by ``report-pipelines api``. It keeps the original system's paths and payloads; every
route is a thin adapter over :mod:`report_pipelines.service` (see ``routes.py``), so the API and
the CLI give the same answers. This module makes the app: the bearer-token check (a FastAPI
security dependency on every ``/api`` route), the body-size limit, and the translation of the
service's errors into HTTP answers.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from contextlib import asynccontextmanager

import dagster as dg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import Match

from report_pipelines.api.auth import AuthConfigError, jwt_secret
from report_pipelines.api.errors import ApiError, Unprocessable, problems_body
from report_pipelines.api.routes import router
from report_pipelines.api.slack_routes import router as slack_router
from report_pipelines.launches import JobNotLoaded, LaunchError, WebserverUnavailable
from report_pipelines.models import ReportValidationError
from report_pipelines.report_files import validation_problems
from report_pipelines.service.reports import ManagedByFile, NameTaken
from report_pipelines.store import NotFound, ReportBroken, ReportStoreUnavailable, SecretKeyError
from report_pipelines.windows import InvalidWindow

# A report file is a few KiB; 256 KiB leaves room for long SQL and refuses payloads meant to
# exhaust memory before any parsing happens.
MAX_BODY_BYTES = 256 * 1024
# How long a client should wait before retrying a run whose job live sync has not loaded yet
# (the sensor ticks every 15 s; the reload takes a few seconds more).
JOB_NOT_LOADED_RETRY_SECONDS = 15


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


def _json(status_code: int, body: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body, headers=headers)


def _answer(err: Exception) -> JSONResponse:
    """The HTTP answer to an error the service raised."""
    if isinstance(err, NameTaken):
        if err.own:
            return _json(422, problems_body([(("body", "name"), str(err).removeprefix("name: "))]))
        # Names are unique across the deployment (each is a Dagster job); someone else's report
        # is not named beyond the clash itself.
        return _json(409, {"detail": str(err)})
    if isinstance(err, ManagedByFile):
        return _json(409, {"detail": str(err)})
    if isinstance(err, InvalidWindow):
        return _json(422, problems_body([(("body", "partition_key"), str(err))]))
    if isinstance(err, ReportValidationError):
        return _json(422, problems_body([(("body",), str(err))]))
    if isinstance(err, ReportBroken):
        broken = err.broken
        return _json(409, {
            "detail": f"report {broken.slug} (#{broken.id}) cannot be built and is not scheduled: "
                      f"{broken.error}; replace it with PUT or delete it",
            "build_error": broken.error,
        })  # fmt: skip
    if isinstance(err, NotFound):
        return _json(404, {"detail": str(err).split(";")[0]})
    if isinstance(err, JobNotLoaded):
        return _json(
            409,
            {"detail": f"{err}: live sync loads a new or renamed report within about a minute; "
                       f"retry in {JOB_NOT_LOADED_RETRY_SECONDS} s"},
            {"Retry-After": str(JOB_NOT_LOADED_RETRY_SECONDS)},
        )  # fmt: skip
    if isinstance(err, WebserverUnavailable):
        return _json(503, {"detail": str(err)})
    if isinstance(err, LaunchError):
        return _json(502, {"detail": str(err)})
    if isinstance(err, sa.exc.OperationalError):
        # A locked SQLite file or a dropped database connection: nothing was written; retrying
        # can succeed. The statement and its parameters stay out of the answer.
        cause = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        return _json(503, {"detail": f"the report store did not answer ({cause}); retry"}, {"Retry-After": "5"})
    return _json(503, {"detail": str(err)})  # ReportStoreUnavailable, SecretKeyError


class DeclaredSizeCheck:
    """Answers a body whose Content-Length is over the limit (413) or not a number (400) in JSON,
    before anything reads it. Bodies that do not declare a length are counted as they arrive by
    Starlette's ``RequestBodyLimitMiddleware``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        declared = dict(scope.get("headers") or []).get(b"content-length") if scope["type"] == "http" else None
        if declared is None:
            await self.app(scope, receive, send)
            return
        if not declared.isdigit():
            response = _json(400, {"detail": "Content-Length must be a number of bytes"})
        elif int(declared) > MAX_BODY_BYTES:
            response = _json(413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"})
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


LAUNCH_LIMIT_ENV = "REPORT_PIPELINES_RUN_LIMIT_PER_HOUR"
DEFAULT_LAUNCH_LIMIT = 60


class LaunchLimit:
    """At most ``per_hour`` run launches per user in any hour (a sliding window, per API
    process): one user's script cannot flood the run queue that every report shares."""

    def __init__(self, per_hour: int):
        self.per_hour = per_hour
        self._launches: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def take(self, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            launches = self._launches[user]
            while launches and now - launches[0] >= 3600:
                launches.popleft()
            if len(launches) >= self.per_hour:
                wait = int(3600 - (now - launches[0])) + 1
                raise ApiError(
                    429,
                    f"run limit reached: {self.per_hour} launches per hour per user "
                    f"({LAUNCH_LIMIT_ENV}); retry in {wait} s",
                    {"Retry-After": str(wait)},
                )
            launches.append(now)


def launch_limit_from_env() -> LaunchLimit:
    raw = os.environ.get(LAUNCH_LIMIT_ENV, "").strip()
    if not raw:
        return LaunchLimit(DEFAULT_LAUNCH_LIMIT)
    if not raw.isdigit() or int(raw) < 1:
        raise AuthConfigError(f"{LAUNCH_LIMIT_ENV} must be a whole number of launches, 1 or more; got {raw!r}")
    return LaunchLimit(int(raw))


def create_app(secret: str | None = None) -> FastAPI:
    """The API app; the JWT secret defaults to REPORT_PIPELINES_JWT_SECRET (required)."""

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
    app.state.jwt_secret = secret or jwt_secret()
    app.state.instances = InstanceHolder()
    app.state.launch_limit = launch_limit_from_env()
    app.include_router(router)
    app.include_router(slack_router)
    # Starlette counts the bytes of every body as they arrive (a chunked body declares no size);
    # the outer check answers a declared size before anything reads the body.
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_BYTES)
    app.add_middleware(DeclaredSizeCheck)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError):
        # Our wording, and never the input echoed back (it may hold a bot token).
        return _json(422, problems_body(validation_problems(list(err.errors()))))

    @app.exception_handler(Unprocessable)
    async def unprocessable(request: Request, err: Unprocessable):
        return _json(422, problems_body(err.problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        headers = dict(err.headers or {})
        if err.status_code == 413:
            return _json(413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"})
        if err.status_code == 405:
            # Each method of a path is its own route, and Starlette lists only the first
            # route's methods; Allow must name them all.
            allowed = set()
            for route in request.app.router.routes:
                if route.matches(request.scope)[0] == Match.PARTIAL:
                    allowed |= getattr(route, "methods", set())
            headers["Allow"] = ", ".join(sorted(allowed))
        return _json(err.status_code, {"detail": err.detail}, headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return _json(err.status_code, {"detail": err.detail}, err.headers)

    for kind in (NameTaken, InvalidWindow, ReportValidationError, NotFound, ReportBroken, LaunchError,
                 ReportStoreUnavailable, SecretKeyError, sa.exc.OperationalError):
        app.add_exception_handler(kind, lambda request, err: _answer(err))
    return app
