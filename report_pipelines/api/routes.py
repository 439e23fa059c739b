"""The routes of the REST API, each a thin adapter over :mod:`report_pipelines.service`.

A user sees, changes and runs only the reports whose ``user_id`` is theirs; anyone else's answers
404 exactly as a missing one does. An admin (a token with ``role: admin``) sees and manages every
report, and alone adds or replaces Slack workspaces and reads the full health check. The service
raises, ``app.py`` turns errors into answers.
"""

from __future__ import annotations

import dagster as dg
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from report_pipelines.api.auth import Principal, current_principal, current_user, require_admin
from report_pipelines.api.errors import ApiError, Unprocessable
from report_pipelines.api.schemas import (
    BrokenReportOut,
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
from report_pipelines.api.schemas import AuditEntryOut, ReassignIn
from report_pipelines.models import Report, ReportSpec
from report_pipelines.service import reports, runs, workspaces
from report_pipelines.service.health import health as check_health
from report_pipelines.service.schedule import MAX_HOURS, next_runs
from report_pipelines.store import AuditLog, WorkspaceNotFound

REPORT_REF = Path(max_length=120, description="The report's numeric id or its slug.", examples=["1", "daily_sales_report"])
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such report among yours"}}
TAKEN = {409: {"model": ErrorOut, "description": "The name is taken by another report"}}

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


def instance(request: Request) -> dg.DagsterInstance:
    return request.app.state.instances.get()


def _out(report: Report) -> ReportOut:
    return ReportOut.model_validate(report.model_dump())


def _spec(payload: ReportPayload, who: Principal, current_owner: str | None = None) -> ReportSpec:
    """The report as stored: owned by the caller, or for an admin by the ``user_id`` given
    (default: the report's current owner, else the admin)."""
    if who.is_admin:
        owner = payload.user_id or current_owner or who.user
    elif payload.user_id is not None and payload.user_id != who.user:
        raise Unprocessable([(("body", "user_id"), f"must be your own user id ({who.user!r}) or left out")])
    else:
        owner = who.user
    return ReportSpec.model_validate({**payload.model_dump(exclude={"user_id"}), "user_id": owner})


@router.post("/scheduling/slack/workspace", status_code=201, response_model=WorkspaceOut, tags=["slack"],
             responses={403: {"model": ErrorOut, "description": "Only an admin manages workspaces"}})
def add_workspace(body: WorkspaceIn, admin: Principal = Depends(require_admin)):
    """Add or replace a Slack workspace (admins only). auth.test must show the token belongs to
    ``team_id``; the token is stored encrypted and never returned."""
    workspace = workspaces.add_workspace(body.team_id, body.team_name, body.bot_token.get_secret_value(), actor=admin.user)
    return WorkspaceOut(**workspace.__dict__, healthy=workspace.healthy)


@router.get("/scheduling/slack/workspaces", response_model=list[WorkspaceOut], tags=["slack"])
def list_workspaces():
    """The shared Slack workspaces (never their tokens)."""
    return [WorkspaceOut(**w.__dict__, healthy=w.healthy) for w in workspaces.list_workspaces()]


@router.get("/scheduling/slack/test/{team_id}", response_model=SlackTestOut, tags=["slack"],
            responses={404: {"model": ErrorOut, "description": "No such workspace"}})
def check_workspace(team_id: str = Path(max_length=32), user: str = Depends(current_user)):
    """auth.test with the workspace's token, and its scopes against what the reports need."""
    try:
        result = workspaces.check_workspace(
            team_id, name_of=lambda report: report.slug if report.user_id == user else "another user's report"
        )
    except WorkspaceNotFound:
        raise ApiError(404, f"no Slack workspace {team_id!r}") from None
    return SlackTestOut(**result.__dict__)


@router.post("/scheduling/reports", status_code=201, response_model=ReportOut, tags=["reports"], responses=TAKEN)
def create_report(payload: ReportPayload, who: Principal = Depends(current_principal)):
    """Create a report; live sync turns it into a Dagster job and schedule within a minute."""
    return _out(reports.create_report(_spec(payload, who), owner=who.owner, actor=who.user))


@router.get("/scheduling/reports", response_model=list[ReportOut | BrokenReportOut], tags=["reports"])
def list_reports(who: Principal = Depends(current_principal)):
    """Your reports (an admin: every report); any that cannot be built come last, each with its
    ``build_error``."""
    broken = [BrokenReportOut(**report.as_dict()) for report in reports.list_broken(owner=who.owner)]
    return [_out(report) for report in reports.list_reports(owner=who.owner)] + broken


@router.get("/scheduling/reports/{report_id}", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def get_report(report_id: str = REPORT_REF, who: Principal = Depends(current_principal)):
    return _out(reports.get_report(report_id, owner=who.owner))


@router.put("/scheduling/reports/{report_id}", response_model=ReportOut, tags=["reports"],
            responses={**NOT_FOUND, **TAKEN})
def replace_report(payload: ReportPayload, report_id: str = REPORT_REF, who: Principal = Depends(current_principal)):
    """Replace a report with the given one (a new name gives it a new slug and job)."""
    current = reports.get_report(report_id, owner=who.owner, broken_too=True)
    return _out(reports.update_report(report_id, _spec(payload, who, current.user_id), owner=who.owner, actor=who.user))


@router.delete("/scheduling/reports/{report_id}", response_model=Deleted, tags=["reports"], responses=NOT_FOUND)
def delete_report(report_id: str = REPORT_REF, who: Principal = Depends(current_principal)):
    """Delete a report; live sync removes its job and schedule. Its run history stays in Dagster."""
    report = reports.delete_report(report_id, owner=who.owner, actor=who.user)
    return Deleted(id=report.id, slug=report.slug)


@router.post("/scheduling/reports/{report_id}/enable", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def enable_report(report_id: str = REPORT_REF, who: Principal = Depends(current_principal)):
    """Turn the report's schedule on (this resets a stop made in the Dagster UI)."""
    return _out(reports.set_enabled(report_id, True, owner=who.owner, actor=who.user))


@router.post("/scheduling/reports/{report_id}/disable", response_model=ReportOut, tags=["reports"], responses=NOT_FOUND)
def disable_report(report_id: str = REPORT_REF, who: Principal = Depends(current_principal)):
    """Turn the report's schedule off."""
    return _out(reports.set_enabled(report_id, False, owner=who.owner, actor=who.user))


@router.post(
    "/scheduling/reports/{report_id}/run", status_code=202, response_model=RunLaunched, tags=["runs"],
    responses={**NOT_FOUND, 200: {"model": RunLaunched, "description": "Already delivered: nothing was run"},
               409: {"model": ErrorOut, "description": "The report's job is not loaded yet; retry"}},
)
def run_report(request: Request, report_id: str = REPORT_REF, body: RunRequest | None = Body(default=None),
               who: Principal = Depends(current_principal), dagster: dg.DagsterInstance = Depends(instance)):
    """Queue a Dagster run of one window (default: the latest complete one) through the webserver.
    A window already delivered is not run again unless ``force`` is set (200, with the run that
    delivered it); a forced run edits the posted message in place."""
    body = body or RunRequest()
    report = reports.get_report(report_id, owner=who.owner)
    key = runs.resolve_window(report, body.partition_key)
    request.app.state.launch_limit.take(who.user)
    launched = runs.launch_window(report, key, force=body.force, trigger="api", instance=dagster, actor=who.user,
                                  without_webserver=False)
    answer = RunLaunched(run_id=launched.run_id, report_id=report.id, partition_key=key, run_url=launched.run_url,
                         status="ALREADY_DELIVERED" if launched.delivered else "QUEUED")
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if launched.delivered else 202)


@router.get("/scheduling/reports/{report_id}/runs", response_model=list[RunOut], tags=["runs"], responses=NOT_FOUND)
def list_runs(report_id: str = REPORT_REF, limit: int = Query(20, ge=1, le=200, description="How many of the latest runs."),
              who: Principal = Depends(current_principal), dagster: dg.DagsterInstance = Depends(instance)):
    """The report's runs, newest first: status, window, error and Slack message ts."""
    return runs.run_history(dagster, reports.get_report(report_id, owner=who.owner), limit)


@router.get("/scheduling/next-runs", response_model=list[UpcomingRunOut], tags=["runs"])
def upcoming(hours: int = Query(24, ge=1, le=MAX_HOURS, description="How far ahead: at most 744 (31 days)."),
             who: Principal = Depends(current_principal), dagster: dg.DagsterInstance = Depends(instance)):
    """Your reports' (an admin: every report's) upcoming scheduled runs, at most 5,000, earliest
    first. A schedule stopped or started in the Dagster UI counts as the UI left it."""
    return [UpcomingRunOut(report_id=report_id, **run.as_dict())
            for report_id, run in next_runs(dagster, hours, owner=who.owner)]


@router.get("/health", response_model=HealthOut, tags=["health"])
def health(who: Principal = Depends(current_principal), dagster: dg.DagsterInstance = Depends(instance)):
    """The checks of `report-pipelines health`, one per component; ``healthy`` is false when any
    fails. The answer is 200 either way: the checks ran, and the body says what they found.
    Admins get every check; anyone else gets those that call nothing outside the deployment
    (report store, Dagster's storage and daemon): no warehouse query, no Slack auth.test, no
    billed Gemini call."""
    return check_health(dagster, full=who.is_admin).as_dict()


@router.get("/audit", response_model=list[AuditEntryOut], tags=["audit"], responses=NOT_FOUND)
def audit(report: str | None = Query(None, max_length=120, description="A report's id or slug: only its entries."),
          limit: int = Query(200, ge=1, le=1000), who: Principal = Depends(current_principal)):
    """Who did what and when, newest first: report changes, runs, workspace changes and
    deliveries. An admin sees every entry; a user the entries of their own reports and their own
    actions."""
    report_id = reports.get_report(report, owner=who.owner, broken_too=True).id if report else None
    return [entry.as_dict() for entry in AuditLog().entries(report_id=report_id, owner=who.owner, limit=limit)]


@router.post("/scheduling/reports/{report_id}/detach", response_model=ReportOut, tags=["reports"],
             responses={**NOT_FOUND, 403: {"model": ErrorOut, "description": "Only an admin detaches reports"}})
def detach(report_id: str = REPORT_REF, admin: Principal = Depends(require_admin)):
    """Let the API and the CLI edit a report that `report-pipelines apply` created from a file (admins only)."""
    return _out(reports.detach_report(report_id, actor=admin.user))


@router.post("/scheduling/reports/{report_id}/reassign", response_model=ReportOut, tags=["reports"],
             responses={**NOT_FOUND, 403: {"model": ErrorOut, "description": "Only an admin reassigns reports"}})
def reassign(body: ReassignIn, report_id: str = REPORT_REF, admin: Principal = Depends(require_admin)):
    """Give a report to another user (admins only)."""
    return _out(reports.reassign_report(report_id, body.to, actor=admin.user))

