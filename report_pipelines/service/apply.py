"""Reports as code: a folder of report files is a team's source of truth.

``plan(paths)`` reads every report file under the paths and compares it with the store:
``+ create SLUG``, ``~ update SLUG (changed fields)``, ``= unchanged SLUG`` and, with ``prune``,
``- delete SLUG`` for reports that ``apply`` created from a file no longer there (reports made
with the CLI or the API are never pruned). ``apply_plan`` writes it in one transaction and
records each change in the audit log. ``export`` writes one file per report that ``plan`` takes
back with nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from report_pipelines.models import Report, ReportSpec, ReportValidationError
from report_pipelines.report_files import load_report_text
from report_pipelines.service.reports import changed_fields, check_query, report_yaml
from report_pipelines.store import AuditLog, ReportStore

SUFFIXES = (".yaml", ".yml", ".json")
FILE_SOURCE = "file:"


@dataclass(frozen=True)
class Change:
    action: str  # create | update | delete | unchanged
    slug: str
    fields: tuple[str, ...] = ()
    source: str | None = None
    spec: ReportSpec | None = None
    report_id: int | None = None

    @property
    def line(self) -> str:
        symbol = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}[self.action]
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{symbol} {self.action} {self.slug}{detail}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(change.action == "unchanged" for change in self.changes)

    def lines(self) -> list[str]:
        return [change.line for change in self.changes]


def report_files(paths: list[str]) -> list[Path]:
    """The report files named, and those under the folders named (sorted, so plans are stable)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise ReportValidationError(f"{name}: no such file or folder")
    if not found:
        raise ReportValidationError(f"no report files (*.yaml, *.yml, *.json) in {', '.join(paths)}")
    return found


def read_files(paths: list[str]) -> dict[str, tuple[ReportSpec, str]]:
    """slug -> (spec, source) for every file; every file's errors, at once, before anything else."""
    specs: dict[str, tuple[ReportSpec, str]] = {}
    problems: list[str] = []
    for path in report_files(paths):
        source = f"{FILE_SOURCE}{path.as_posix()}"
        try:
            spec = load_report_text(path.read_text(encoding="utf-8"), source=str(path))
            check_query(spec)
        except (ReportValidationError, UnicodeDecodeError, OSError) as err:
            problems.append(f"{path}: {err}")
            continue
        if spec.slug in specs:
            problems.append(f"{path}: the report {spec.slug} is also defined in {specs[spec.slug][1].removeprefix(FILE_SOURCE)}")
            continue
        specs[spec.slug] = (spec, source)
    if problems:
        raise ReportValidationError("\n".join(problems))
    return specs


def plan(paths: list[str], *, prune: bool = False, store: ReportStore | None = None) -> Plan:
    store = store or ReportStore()
    wanted = read_files(paths)
    # A new deployment's store has no tables yet: everything is to create (a dry run makes none).
    current = {report.slug: report for report in store.list()} if store.tables_exist() else {}
    result = Plan()
    for slug, (spec, source) in wanted.items():
        existing = current.get(slug)
        if existing is None:
            result.changes.append(Change("create", slug, source=source, spec=spec))
            continue
        # Only the report's content counts: the same report read from another folder (an export,
        # a moved file) is unchanged, and an update records the file it came from now.
        fields = changed_fields(existing.spec(), spec)
        action = "update" if fields else "unchanged"
        result.changes.append(Change(action, slug, tuple(fields), source=source, spec=spec, report_id=existing.id))
    if prune:
        for slug, report in sorted(current.items()):
            if slug not in wanted and (report.source or "").startswith(FILE_SOURCE):
                result.changes.append(Change("delete", slug, report_id=report.id, source=report.source))
    return result


def apply_plan(result: Plan, *, actor: str) -> None:
    """Write the plan in one transaction, then record each change in the audit log."""
    store = ReportStore()
    creates = [(c.spec, c.source) for c in result.changes if c.action == "create"]
    updates = [(c.report_id, c.spec, c.source) for c in result.changes if c.action == "update"]
    deletes = [c.report_id for c in result.changes if c.action == "delete"]
    if not (creates or updates or deletes):
        return
    store.create_tables()
    deleted = {report_id: store.get(report_id) for report_id in deletes}
    store.apply(creates, updates, deletes)
    audit = AuditLog()
    for change in result.changes:
        if change.action == "create":
            audit.record(actor, "report.created", report=store.get(change.slug), source=change.source)
        elif change.action == "update":
            audit.record(actor, "report.changed", report=store.get(change.slug), fields=list(change.fields),
                         source=change.source)
        elif change.action == "delete":
            audit.record(actor, "report.deleted", report=deleted[change.report_id], source=change.source)


def export(folder: Path, reports: list[Report] | None = None) -> list[Path]:
    """One ``SLUG.yaml`` per report, exactly its report file."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for report in reports if reports is not None else ReportStore().list():
        path = folder / f"{report.slug}.yaml"
        path.write_text(report_yaml(report), encoding="utf-8")
        written.append(path)
    return written
