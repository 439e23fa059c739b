"""Reports: what creating, changing, showing and deleting one means, whoever asks.

``owner`` restricts an operation to one user's reports (the REST API); ``None`` means every
report (the CLI, run by whoever administers the deployment). Another user's report is "not
found", exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt

import json
from pathlib import Path

import yaml

from report_pipelines.models import SNOOZE_INDEFINITELY, Report, ReportSpec, ReportValidationError
from report_pipelines.report_files import load_report_text
from report_pipelines.names import job_name
from report_pipelines.sql import check_read_only, is_sql
from report_pipelines.store import AuditLog, BrokenReport, ReportNameTaken, ReportNotFound, ReportStore, cli_actor

# Ids are SQL INTEGERs: a larger number cannot name a report, and PostgreSQL would refuse it.
MAX_REPORT_ID = 2**31 - 1


class NameTaken(ReportValidationError):
    """The name (and so the Dagster job) belongs to another report; ``own`` says whose."""

    def __init__(self, message: str, *, own: bool):
        super().__init__(message)
        self.own = own


def parse_ref(ref: str | int) -> int | str:
    """A report reference: its numeric id (ASCII digits only: ``"²".isdigit()`` is true) or slug."""
    if isinstance(ref, int):
        return ref
    return int(ref) if ref.isascii() and ref.isdigit() else ref


def get_report(
    ref: str | int, owner: str | None = None, *, store: ReportStore | None = None, broken_too: bool = False
) -> Report:
    """The report; ReportBroken for a stored row that is not a valid one, unless ``broken_too``
    (updating or deleting it is how it gets repaired)."""
    store = store or ReportStore()
    parsed = parse_ref(ref)
    not_found = ReportNotFound(
        f"no report {str(ref)!r} among yours" if owner is not None
        else f"no report {str(ref)!r}; `report-pipelines reports list` shows them"
    )
    if isinstance(parsed, int) and parsed > MAX_REPORT_ID:
        raise not_found
    try:
        report = store.get_any(parsed) if broken_too else store.get(parsed)
    except ReportNotFound:
        raise not_found from None
    if owner is not None and report.user_id != owner:
        raise not_found
    return report


def list_reports(owner: str | None = None, *, enabled_only: bool = False) -> list[Report]:
    return ReportStore().list(enabled_only=enabled_only, user_id=owner)


def list_broken(owner: str | None = None) -> list[BrokenReport]:
    """Stored rows that are not valid reports: never scheduled, listed so they get repaired."""
    return ReportStore().list_broken(user_id=owner)


def _writing(store: ReportStore, owner: str | None, write):
    try:
        return write()
    except ReportNameTaken as err:
        own = owner is None or store.get(err.clash_id).user_id == owner
        raise NameTaken(str(err) if own else "name: this name is taken by another report; choose another name", own=own) from None


def check_query(spec: ReportSpec) -> None:
    """Refuse report SQL the warehouses would refuse (writes, several statements, file readers,
    functions off the allow-list) before it is stored, with the same words; a plain-language
    prompt is Gemini's to turn into SQL, and each query it writes is checked the same way."""
    if not is_sql(spec.query):
        return
    try:
        check_read_only(spec.query)
    except ValueError as err:
        raise ReportValidationError(f"query: {err}") from None


class ManagedByFile(ReportValidationError):
    """The report came from a report file through ``apply``: the file is what to change."""

    def __init__(self, report: Report):
        super().__init__(
            f"report {report.slug} comes from {report.source.removeprefix('file:')}: change that file and run "
            f"`report-pipelines apply` (an admin may detach it: `report-pipelines reports detach {report.slug}`)"
        )


def _editable(report):
    if isinstance(report, Report) and (report.source or "").startswith("file:"):
        raise ManagedByFile(report)
    return report


def detach_report(ref: str | int, *, actor: str | None = None) -> Report:
    """Let the CLI and the API edit a report that ``apply`` created (an admin's operation)."""
    store = ReportStore()
    current = get_report(ref, store=store)
    if not current.source:
        return current
    report = store.set_source(current.slug, None)
    AuditLog().record(acting(actor, None), "report.changed", report=report, fields=["source"], detached=current.source)
    return report


def acting(actor: str | None, owner: str | None) -> str:
    """Who the audit log names: the caller given, else the owning user, else the CLI's user."""
    return actor or owner or cli_actor()


def changed_fields(before: ReportSpec | None, after: ReportSpec) -> list[str]:
    """The report file's top-level keys whose values differ."""
    if before is None:
        return sorted(after.model_dump(exclude_none=True))
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def create_report(spec: ReportSpec, owner: str | None = None, *, actor: str | None = None) -> Report:
    check_query(spec)
    store = ReportStore()
    report = _writing(store, owner, lambda: store.add(spec))
    AuditLog().record(acting(actor, owner), "report.created", report=report)
    return report


def update_report(ref: str | int, spec: ReportSpec, owner: str | None = None, *, actor: str | None = None) -> Report:
    check_query(spec)
    store = ReportStore()
    current = _editable(get_report(ref, owner, store=store, broken_too=True))
    before = current.spec() if isinstance(current, Report) else None
    report = _writing(store, owner, lambda: store.update(current.slug, spec))
    AuditLog().record(acting(actor, owner), "report.changed", report=report,
                      fields=changed_fields(before, spec), **({"was": current.slug} if current.slug != report.slug else {}))
    return report


def set_enabled(ref: str | int, enabled: bool, owner: str | None = None, *, actor: str | None = None) -> Report:
    store = ReportStore()
    report = store.set_enabled(_editable(get_report(ref, owner, store=store)).slug, enabled)
    AuditLog().record(acting(actor, owner), "report.enabled" if enabled else "report.disabled", report=report)
    return report


SNOOZE_CHOICES = {"1d": dt.timedelta(days=1), "1w": dt.timedelta(weeks=1), "off": None}


def snooze_report(ref: str | int, choice: str, *, actor: str, now: dt.datetime | None = None) -> Report:
    """Skip the report's scheduled windows for a day (``1d``), a week (``1w``) or until it is
    re-enabled (``off``); it resumes by itself when the time is up."""
    if choice not in SNOOZE_CHOICES:
        raise ReportValidationError(f"snooze {choice!r}: choose 1d, 1w or off (until re-enabled)")
    store = ReportStore()
    current = get_report(ref, store=store)
    span = SNOOZE_CHOICES[choice]
    until = SNOOZE_INDEFINITELY if span is None else (now or dt.datetime.now(dt.timezone.utc)) + span
    report = store.snooze(current.slug, until, actor)
    AuditLog().record(actor, "report.snoozed", report=report, until=until.isoformat(), choice=choice)
    return report


def delete_report(ref: str | int, owner: str | None = None, *, actor: str | None = None) -> Report | BrokenReport:
    store = ReportStore()
    report = store.delete(_editable(get_report(ref, owner, store=store, broken_too=True)).slug)
    AuditLog().record(acting(actor, owner), "report.deleted", report=report)
    return report


def reassign_report(ref: str | int, new_owner: str, *, actor: str | None = None) -> Report:
    """Give a report to another user (an admin's operation: the CLI, or the API as an admin)."""
    new_owner = new_owner.strip()
    if not new_owner or len(new_owner) > 120:
        raise ReportValidationError("--to: give the new owner's user id (1 to 120 characters)")
    store = ReportStore()
    current = _editable(get_report(ref, store=store))
    if current.user_id == new_owner:
        return current
    spec = current.spec().model_copy(update={"user_id": new_owner})
    report = store.update(current.slug, spec)
    AuditLog().record(acting(actor, None), "report.reassigned", report=report, previous_owner=current.user_id)
    return report


def read_report_file(path: str, stdin_text: str | None = None) -> ReportSpec:
    """A report file (YAML or JSON; ``-`` is standard input), validated."""
    try:
        text = stdin_text if path == "-" else Path(path).read_text()
    except OSError as err:
        raise ReportValidationError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ReportValidationError(f"cannot read {path}: it is not UTF-8 text; save it as UTF-8") from None
    return load_report_text(text or "", source=path)


def report_document(report: Report) -> dict:
    """The report as its file: exactly the keys ``reports add`` / ``update`` take, so the output of
    ``reports show --yaml`` can be edited and fed back unchanged."""
    document = json.loads(report.spec().model_dump_json(exclude_none=True))
    # Optional sections left at their defaults stay out of the file, as the author wrote it.
    if not report.compare.any:
        document.pop("compare", None)
    if not report.targets:
        document.pop("targets", None)
    if not report.destinations:
        document.pop("destinations", None)
    return document


def report_yaml(report: Report, *, header: bool = False) -> str:
    text = yaml.safe_dump(report_document(report), sort_keys=False, allow_unicode=True)
    if not header:
        return text
    facts = (
        f"# report #{report.id} {report.slug}: job {job_name(report.slug)}, "
        f"cron {report.schedule.cron_schedule} ({report.schedule.timezone})\n"
        f"# created {report.created_at:%Y-%m-%d %H:%M} UTC, updated {report.updated_at:%Y-%m-%d %H:%M} UTC\n"
    )
    if report.snoozed_until is not None:
        facts += f"# {report.snooze_state} by {report.snoozed_by}: scheduled windows ending before then are skipped\n"
    return facts + text



def report_summary(report: Report) -> dict:
    """The report with the names and facts derived from it (``--json``, listings)."""
    data = json.loads(report.model_dump_json())
    data["slug"] = report.slug
    data["cron"] = report.schedule.cron_schedule
    data["job_name"] = job_name(report.slug)
    return data
