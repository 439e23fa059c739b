"""Request and response bodies of the REST API.

A report body is the report file of DESIGN.md as JSON, validated by the same models as the CLI;
``user_id`` may be left out (it is the token's user either way).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, SecretStr, computed_field, field_validator, model_validator

from report_pipelines.models import Report, ReportSpec, slugify
from report_pipelines.report_files import without_derived_keys
from report_pipelines.store.workspaces import check_bot_token
from report_pipelines.names import CODE_LOCATION, job_name, schedule_name, webserver_url


class ReportPayload(ReportSpec):
    """A report as POSTed or PUT: the report file's keys; ``user_id`` defaults to the token's user.

    The keys a GET adds (``id``, ``slug``, ``cron``, ``job_name`` ...) are accepted and ignored,
    so a report read from the API can be changed and PUT back as it is."""

    user_id: str | None = Field(
        default=None, min_length=1, max_length=120,
        description="The owner; must be the token's user when given (left out, it is).",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_derived_keys(cls, data):
        return without_derived_keys(data)


class ReportOut(Report):
    """A stored report with the Dagster names and links derived from it."""

    @computed_field
    @property
    def slug(self) -> str:
        return slugify(self.name)

    @computed_field(description="The schedule as a cron string, in the report's timezone.")
    @property
    def cron(self) -> str:
        return self.schedule.cron_schedule

    @computed_field
    @property
    def job_name(self) -> str:
        return job_name(self.slug)

    @computed_field
    @property
    def schedule_name(self) -> str:
        return schedule_name(self.slug)

    @computed_field(description="The report's job in the Dagster UI.")
    @property
    def dagster_url(self) -> str:
        return f"{webserver_url()}/locations/{CODE_LOCATION}/jobs/{job_name(self.slug)}"


class BrokenReportOut(BaseModel):
    """A stored report that cannot be built (written by an older release, or by hand in SQL): it
    is not scheduled, and ``build_error`` says why. Replace it with PUT, or delete it."""

    id: int
    slug: str
    name: str
    user_id: str
    build_error: str


class Deleted(BaseModel):
    id: int
    slug: str
    deleted: bool = True


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    team_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$",
                         description="Slack team id, e.g. T0123ABCD.")
    team_name: str = Field(min_length=1, max_length=200)
    bot_token: SecretStr = Field(description="Bot User OAuth Token (xoxb-...); stored encrypted, never returned.")

    @field_validator("bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr) -> SecretStr:
        check_bot_token(value.get_secret_value())
        return value


class WorkspaceOut(BaseModel):
    team_id: str
    team_name: str
    is_active: bool
    healthy: bool
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    created_at: dt.datetime


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partition_key: str | None = Field(
        default=None, max_length=32,
        description="The window to run, e.g. 2026-11-26-09:00; default the latest complete window.",
    )
    force: bool = Field(default=False, description="Run again even if delivered; edits the posted message.")


class RunLaunched(BaseModel):
    run_id: str
    report_id: int
    partition_key: str
    status: str
    run_url: str


class RunOut(BaseModel):
    run_id: str
    status: str
    partition_key: str | None = None
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    error: str | None = None
    delivery: str | None = Field(default=None, description="posted, updated, skipped, preview ... as post_to_slack recorded it.")
    slack_channel: str | None = None
    slack_ts: str | None = None
    trigger: str | None = None
    run_url: str


class UpcomingRunOut(BaseModel):
    report_id: int
    slug: str
    name: str
    timezone: str
    local_time: dt.datetime
    utc_time: dt.datetime
    partition_key: str


class CheckOut(BaseModel):
    component: str
    ok: bool
    detail: str


class HealthOut(BaseModel):
    healthy: bool
    checks: list[CheckOut]


class SlackTestOut(BaseModel):
    team_id: str
    ok: bool = Field(description="The token works and has every scope the reports need.")
    team: str | None = None
    bot_user_id: str | None = None
    scopes: list[str] = []
    needed: dict[str, str] = Field(default={}, description="scope -> why the reports need it")
    missing: dict[str, str] = {}
    error: str | None = None


class ErrorOut(BaseModel):
    detail: str


class Problem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[Problem]


class AuditEntryOut(BaseModel):
    """One audit log entry: who (a user id, ``cli:<login>`` or ``run:<run id>``) did what."""

    at: str
    actor: str
    action: str
    report_id: int | None = None
    report: str | None = None
    owner: str | None = None
    team_id: str | None = None
    details: dict


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=120, description="The new owner's user id.")

