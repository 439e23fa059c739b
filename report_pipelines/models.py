"""Report definitions and their validation.

A report file (YAML or JSON) is parsed into a :class:`ReportSpec`; a stored row is a
:class:`Report`. Every rule about what a valid report is lives here, so the CLI, the store and
the Dagster definitions agree on it. No Dagster import: this module is plain logic.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from report_pipelines.sql import is_sql

Frequency = Literal["daily", "weekly", "monthly"]
NotificationType = Literal["none", "channel", "dm"]
AnalysisMode = Literal["quick", "deep"]
Audience = Literal["analyst", "general"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Cron numbers weekdays from Sunday = 0; our files name them.
_CRON_WEEKDAY = {name: (index + 1) % 7 for index, name in enumerate(WEEKDAYS)}
MAX_NAME_LENGTH = 120
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"
# Bounds on a report's history, so every stored report can be built into a Dagster job: cron
# and partition maths work on Unix timestamps, and every window is one partition the UI lists.
EARLIEST_START_DATE = dt.date(1970, 1, 1)
# "Snooze until re-enabled": a date no window reaches; enabling the report ends it.
SNOOZE_INDEFINITELY = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)
MAX_WINDOWS = 100_000


class ReportValidationError(ValueError):
    """A report file or field is invalid; the message names the field and what to fix."""


def slugify(name: str) -> str:
    """``"Daily Sales Report"`` -> ``"daily_sales_report"``: stable Dagster names come from it."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return slug


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text; SQLite can. Refuse it everywhere so a report
        # valid on one store is valid on the other.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character (\\x00); remove it")
        return value


class ScheduleSpec(_Strict):
    """When a report runs: a frequency at HH:MM in an IANA timezone, or a cron string.

    Monthly reports take ``day_of_month`` 1-28 or ``"last"``. The 29th-31st are refused because
    they do not occur in every month: a report on the 31st would silently skip half the year.
    ``"last"`` runs on the month's final day (28/29 Feb, 30 Apr, 31 Dec ...).
    """

    frequency: Frequency | None = None
    time: str = "09:00"
    timezone: str = "UTC"
    enabled: bool = True
    day_of_week: str | int | None = None
    day_of_month: int | Literal["last"] | None = None
    cron: str | None = Field(default=None, max_length=120)
    start_date: dt.date | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _check_time_is_text(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 10:30 as the base-60 number 630, and 9 as a number too.
        if isinstance(value, int) and not isinstance(value, bool):
            hours, minutes = divmod(value, 60)
            quoted = f'"{hours:02d}:{minutes:02d}"' if 60 <= value < 24 * 60 else '"HH:MM"'
            raise ValueError(
                f"put the time in quotes: time: {quoted} (unquoted, YAML reads a time such as 10:30 "
                f"as a number, here {value})"
            )
        return value

    @field_validator("time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"time {value!r} must be HH:MM between 00:00 and 23:59")
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        # ZoneInfo also accepts file paths and legacy aliases; the IANA list is the contract.
        if value not in _iana_timezones():
            raise ValueError(f"timezone {value!r} is not an IANA timezone name, e.g. Europe/London")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as err:
            raise ValueError(f"timezone {value!r} is not available on this system") from err
        return value

    # Both day fields validate before pydantic tries each member of their union type, so a bad
    # value gets one message naming the field, not one per member ("day_of_month.int: ...").
    @field_validator("day_of_week", mode="before")
    @classmethod
    def _check_day_of_week(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(f"day_of_week {value!r} must be a weekday name such as monday, or 0 (Monday) to 6 (Sunday)")
        if isinstance(value, int):
            # 0 = Monday, as in Python's weekday().
            if not 0 <= value <= 6:
                raise ValueError(f"day_of_week {value} must be 0 (Monday) to 6 (Sunday)")
            return WEEKDAYS[value]
        name = value.strip().lower()
        for full in WEEKDAYS:
            if name in (full, full[:3]):
                return full
        raise ValueError(f"day_of_week {value!r} must be a weekday name such as monday")

    @field_validator("day_of_month", mode="before")
    @classmethod
    def _check_day_of_month(cls, value: Any) -> int | str | None:
        if value is None or value == "last":
            return value
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 28:
            raise ValueError(
                f"day_of_month {value!r} must be 1-28 or 'last' (29-31 do not occur in every month)"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"cron {value!r} is not a valid 5-field cron expression")
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> ScheduleSpec:
        if self.cron is None and self.frequency is None:
            raise ValueError("give a frequency (daily, weekly, monthly) or a cron expression")
        if self.cron is not None and self.frequency is not None:
            raise ValueError("give either frequency or cron, not both")
        if self.frequency != "weekly" and self.day_of_week is not None:
            raise ValueError("day_of_week applies only to weekly reports")
        if self.frequency != "monthly" and self.day_of_month is not None:
            raise ValueError("day_of_month applies only to monthly reports")
        self._check_history()
        return self

    def _check_history(self) -> None:
        """``start_date`` from 1970-01-01 on (cheap, so checked on every parse)."""
        if self.start_date is not None and self.start_date < EARLIEST_START_DATE:
            raise ValueError(
                f"start_date {self.start_date} is before {EARLIEST_START_DATE}: choose a date from "
                f"{EARLIEST_START_DATE} on"
            )

    def history_problem(self, today: dt.date | None = None) -> str | None:
        """Why ``start_date`` gives too many windows to build, or None.

        Checked when a report is written, not each time a stored one is read: windows accumulate,
        and a report accepted once must not become unbuildable by the passing of time.
        """
        if self.start_date is None:
            return None
        windows = estimated_windows(self.cron_schedule, self.start_date, today or dt.date.today())
        if windows <= MAX_WINDOWS:
            return None
        return (
            f"start_date {self.start_date} gives more than {MAX_WINDOWS:,} windows up to today on "
            f"cron {self.cron_schedule!r}: choose a later start_date (or a less frequent schedule)"
        )

    @property
    def cron_schedule(self) -> str:
        """The cron string the report's partitions and schedule follow (in ``timezone``)."""
        if self.cron:
            return self.cron
        hour, minute = (int(part) for part in self.time.split(":"))
        if self.frequency == "daily":
            return f"{minute} {hour} * * *"
        if self.frequency == "weekly":
            return f"{minute} {hour} * * {_CRON_WEEKDAY[self.day_of_week or 'monday']}"
        day = self.day_of_month or 1
        return f"{minute} {hour} {'L' if day == 'last' else day} * *"

    @property
    def period(self) -> str:
        """The word for one window: day, week, month, or period for a cron schedule."""
        return {"daily": "day", "weekly": "week", "monthly": "month"}.get(
            self.frequency or "", "period"
        )


class SlackConfig(_Strict):
    """Where a report goes: nowhere, a channel (name or ID), or a DM (user ID or email)."""

    notification_type: NotificationType = "channel"
    slack_channel: str | None = Field(default=None, max_length=200)
    slack_user_id: str | None = Field(default=None, max_length=200)
    team_id: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _check_destination(self) -> SlackConfig:
        if self.notification_type == "channel" and not self.slack_channel:
            raise ValueError("notification_type 'channel' needs slack_channel, e.g. '#sales'")
        if self.notification_type == "dm" and not self.slack_user_id:
            raise ValueError("notification_type 'dm' needs slack_user_id (U... or an email)")
        return self

    @property
    def destination(self) -> str | None:
        if self.notification_type == "channel":
            return self.slack_channel
        if self.notification_type == "dm":
            return self.slack_user_id
        return None


class AnalysisSpec(_Strict):
    mode: AnalysisMode = "quick"
    audience: Audience = "analyst"


class AttachmentSpec(_Strict):
    """Files posted into the message's thread: a PNG chart of the main series, the full CSV."""

    chart: bool = False
    csv: bool = False


SendIfOp = Literal["<", "<=", ">", ">=", "==", "!="]
SendIfStat = Literal["total", "average", "min", "max", "count"]
ChangeKind = Literal["pct", "abs"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_DURATION_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_seconds(text: str) -> float:
    """``"6h"`` -> 21600.0; units m, h, d, w. Raises ValueError saying what is accepted."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: write a positive number and a unit, e.g. 30m, 6h, 2d or 1w")
    return float(match.group(1)) * _DURATION_SECONDS[match.group(2)]


class CompareSpec(_Strict):
    """Period-over-period: run the same query for earlier windows and show each key metric's change.

    ``previous`` is the window before this one on the report's schedule; ``year_ago`` is this
    window moved back one calendar year.
    """

    previous: bool = False
    year_ago: bool = False

    @property
    def any(self) -> bool:
        return self.previous or self.year_ago


class AnomalySpec(_Strict):
    """Flag ``stat`` of ``metric`` when it leaves the robust range of the last ``windows`` windows.

    The range is median ± ``threshold`` × 1.4826 × MAD (median absolute deviation) of those
    windows; 1.4826 makes the MAD estimate a standard deviation for normal data, so threshold 3
    reads like "three sigma" without letting one past outlier widen the range.
    """

    metric: str = Field(min_length=1, max_length=200)
    stat: SendIfStat = "total"
    windows: int = Field(default=8, ge=3, le=100)
    threshold: float = Field(default=3.0, gt=0, le=100)


class TargetSpec(_Strict):
    """A goal for ``stat`` of ``metric`` in each window; the message shows progress toward it."""

    metric: str = Field(min_length=1, max_length=200)
    stat: SendIfStat = "total"
    value: float

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: float) -> float:
        if value == 0 or value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a target value must be a finite number other than 0")
        return value


class FreshSpec(_Strict):
    """The newest ``column`` value must be within ``within`` (e.g. "6h") of the window's end."""

    column: str = Field(min_length=1, max_length=200)
    within: str

    @field_validator("within", mode="before")
    @classmethod
    def _check_within(cls, value: Any) -> str:
        duration_seconds(value)
        return str(value).strip()

    @property
    def seconds(self) -> float:
        return duration_seconds(self.within)


class SendIf(_Strict):
    """Send only when the result is worth a message.

    Every condition given in one block must hold (``all`` and ``any`` combine blocks):

    * ``min_rows: 1`` skips empty windows;
    * ``metric`` + ``op`` + ``value``: a computed metric (``stat`` of column ``metric``, total by
      default) meets the threshold;
    * the same with ``change: pct|abs``: the metric's change from the previous window meets it,
      and the absolute change is at least ``min_abs`` (required for ``pct``, so a tiny baseline
      cannot fire: 2 -> 3 is +50% but only +1);
    * ``changed: true``: the result differs from the last delivered window's;
    * ``anomaly: true``: the report's ``anomaly`` check flagged this window;
    * ``fresh: {column, within}``: not a filter but a guard: stale data fails the run loudly.
    """

    min_rows: int | None = Field(default=None, ge=0)
    metric: str | None = None
    stat: SendIfStat = "total"
    op: SendIfOp | None = None
    value: float | None = None
    change: ChangeKind | None = None
    min_abs: float | None = Field(default=None, ge=0)
    changed: bool | None = None
    anomaly: bool | None = None
    fresh: FreshSpec | None = None
    all: list[SendIf] | None = Field(default=None, min_length=1)
    any: list[SendIf] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check_shape(self) -> SendIf:
        threshold = (self.metric, self.op, self.value)
        if any(part is not None for part in threshold) and any(part is None for part in threshold):
            what = "a change rule" if self.change else "a metric threshold"
            raise ValueError(f"{what} needs metric, op and value together")
        if self.change is not None and self.metric is None:
            raise ValueError("change: pct|abs needs metric, op and value (the change to compare)")
        if self.change == "pct" and self.min_abs is None:
            raise ValueError(
                "a percent change rule also needs min_abs, the smallest absolute change that counts "
                "(so 2 -> 3, a 50% rise, does not fire on a tiny baseline), e.g. min_abs: 100"
            )
        if self.min_abs is not None and self.change is None:
            raise ValueError("min_abs applies only to a change rule (change: pct or abs)")
        if self.changed is False:
            raise ValueError("changed: true is the only setting (send only when the result changed); remove changed: false")
        if self.anomaly is False:
            raise ValueError("anomaly: true is the only setting (send only on an anomaly); remove anomaly: false")
        if self.min_rows is None and self.metric is None and not self.changed and not self.anomaly \
                and self.fresh is None and self.all is None and self.any is None:
            raise ValueError("give min_rows, or metric + op + value (optionally with change: pct|abs), or changed, anomaly, fresh, all or any")
        return self

    def walk(self):
        """This block and every block nested in ``all`` / ``any``."""
        yield self
        for child in (self.all or []) + (self.any or []):
            yield from child.walk()

    @property
    def needs_previous(self) -> bool:
        return any(block.change is not None for block in self.walk())


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"url {value!r} must be an http:// or https:// address")
    return value


class WebhookDestination(_Strict):
    """A JSON POST of the report, signed ``X-Report-Signature: sha256=<HMAC of the body>`` with
    the secret in the environment variable ``secret_env`` (never the secret itself)."""

    type: Literal["webhook"]
    url: str = Field(max_length=2000)
    secret_env: str | None = Field(default=None, max_length=120)

    _check = field_validator("url")(classmethod(lambda cls, value: _check_url(value)))

    @field_validator("secret_env")
    @classmethod
    def _check_secret_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                f"secret_env {value!r} must name an environment variable (A-Z, 0-9, _), e.g. REPORT_WEBHOOK_SECRET; "
                "the secret itself never goes in the report file"
            )
        return value


class TeamsDestination(_Strict):
    """A Microsoft Teams Workflows webhook: the report as an Adaptive Card."""

    type: Literal["teams"]
    url: str = Field(max_length=2000)

    _check = field_validator("url")(classmethod(lambda cls, value: _check_url(value)))


class EmailDestination(_Strict):
    """Mail through ``SMTP_URL``: HTML and plain text, with the CSV (and chart) attached."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1, max_length=50)

    @field_validator("to")
    @classmethod
    def _check_to(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if not _EMAIL.match(item.strip())]
        if bad:
            raise ValueError(f"{', '.join(repr(item) for item in bad)} is not an email address")
        return [item.strip() for item in value]


def _destination_type(value: Any) -> str | None:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


# A callable discriminator: the models' validators (NUL refusal) also run on ``type``, which a
# field discriminator does not allow.
Destination = Annotated[
    Annotated[WebhookDestination, Tag("webhook")] | Annotated[TeamsDestination, Tag("teams")]
    | Annotated[EmailDestination, Tag("email")],
    Discriminator(_destination_type, custom_error_type="destination_type",
                  custom_error_message="type must be webhook, teams or email"),
]


class ReportSpec(_Strict):
    """A report as written in a report file (the original REST payload)."""

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    description: str = ""
    query: str = Field(min_length=1)
    schedule: ScheduleSpec
    user_id: str = Field(min_length=1, max_length=120)
    slack_config: SlackConfig = Field(default_factory=lambda: SlackConfig(notification_type="none"))
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec, validate_default=True)
    attachments: AttachmentSpec = Field(default_factory=AttachmentSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    anomaly: AnomalySpec | None = None
    targets: list[TargetSpec] = Field(default_factory=list, max_length=20)
    destinations: list[Destination] = Field(default_factory=list, max_length=20)
    # After anomaly: its validator reads whether the report has an anomaly check.
    send_if: SendIf | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not slugify(value):
            raise ValueError(f"name {value!r} needs at least one letter or digit")
        return value

    @field_validator("analysis")
    @classmethod
    def _check_prompt_reports(cls, value: AnalysisSpec, info) -> AnalysisSpec:
        query = info.data.get("query")
        if query and value.mode == "quick" and not is_sql(query):
            raise ValueError(
                "the query reads as a plain-language prompt, not SQL: write SQL in query, or set "
                "analysis.mode: deep (with GOOGLE_API_KEY set) so Gemini answers it with "
                "read-only SQL"
            )
        return value

    @field_validator("send_if")
    @classmethod
    def _check_anomaly_condition(cls, value: SendIf | None, info) -> SendIf | None:
        # "anomaly" missing from info.data means it failed validation itself: that error is enough.
        if value is not None and "anomaly" in info.data and info.data["anomaly"] is None \
                and any(block.anomaly for block in value.walk()):
            raise ValueError("anomaly: true needs the report's anomaly check: add anomaly: {metric: COLUMN}")
        return value

    @property
    def slug(self) -> str:
        return slugify(self.name)


class Report(ReportSpec):
    """A stored report: the spec plus its identity and timestamps."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)

    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    # Set from Slack's Snooze button: scheduled windows ending before it are skipped.
    snoozed_until: dt.datetime | None = None
    snoozed_by: str | None = None
    # "file:PATH" when `report-pipelines apply` created it: edit the file, not the report.
    source: str | None = None

    def snoozed_at(self, moment: dt.datetime) -> bool:
        return self.snoozed_until is not None and moment < self.snoozed_until

    @property
    def snooze_state(self) -> str:
        """``snoozed until 2026-12-10 09:00 UTC`` / ``snoozed until re-enabled``; empty when not."""
        if self.snoozed_until is None:
            return ""
        if self.snoozed_until >= SNOOZE_INDEFINITELY:
            return "snoozed until re-enabled"
        return f"snoozed until {self.snoozed_until.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"

    @property
    def first_window_start(self) -> dt.datetime:
        return first_window_start(self.schedule, self.created_at)

    def spec(self) -> ReportSpec:
        return ReportSpec.model_validate(
            self.model_dump(exclude={"id", "created_at", "updated_at", "snoozed_until", "snoozed_by", "source"})
        )


def first_window_start(schedule: ScheduleSpec, created_at: dt.datetime) -> dt.datetime:
    """Windows begin at ``start_date``, default the day the report was created, both read in the
    report's timezone (a report created late on the 26th in UTC may be the 27th in Tokyo)."""
    zone = ZoneInfo(schedule.timezone)
    day = schedule.start_date or created_at.astimezone(zone).date()
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def estimated_windows(cron: str, start: dt.date, today: dt.date) -> int:
    """Windows from ``start`` to ``today``: the cron's ticks in a sample week, times the weeks.

    Counting stops as soon as the bound is certain to be passed, so a per-minute cron with a
    long history costs a few hundred steps, not every tick.
    """
    days = (today - start).days
    if days <= 0:
        return 0
    week_start = dt.datetime(2025, 1, 6)  # a Monday: any whole week gives the same count
    week_end = week_start + dt.timedelta(days=7)
    enough = MAX_WINDOWS * 7 // days + 1  # ticks per week that certainly pass the bound
    ticks = croniter(cron, week_start - dt.timedelta(seconds=1))
    count = 0
    while count <= enough and ticks.get_next(dt.datetime) < week_end:
        count += 1
    return count * days // 7


def _iana_timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    return _TIMEZONES


_TIMEZONES: frozenset[str] | None = None


class ReportWindow(BaseModel):
    """One run's window: the partition ``[start, end)`` in the report's timezone."""

    model_config = ConfigDict(frozen=True)

    partition_key: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    def query_parameters(self) -> dict[str, Any]:
        """The four parameters every warehouse binds: ``@window_start`` ... ``@window_end_date``."""
        return {
            "window_start": self.start,
            "window_end": self.end,
            "window_start_date": self.start.date(),
            "window_end_date": self.end.date(),
        }

    def describe(self) -> str:
        """``2026-11-26 09:00 → 2026-11-27 09:00 Europe/London``."""
        zone = ZoneInfo(self.timezone)
        start = self.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        end = self.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return f"{start} → {end} {self.timezone}"
