"""The report store, one module per table: ``reports`` (scheduled_reports), ``workspaces``
(slack_workspaces and their encrypted tokens) and ``deliveries`` (the exactly-once ledger), on
the ``database`` they share (one engine per URL, Alembic migrations)."""

from report_pipelines.store.audit import AuditEntry, AuditLog, cli_actor
from report_pipelines.store.database import (
    Database,
    NotFound,
    ReportStoreUnavailable,
    default_home,
    store_url,
)
from report_pipelines.store.deliveries import DeliveryInDoubt, DeliveryKey, DeliveryLedger, LedgerEntry
from report_pipelines.store.reports import BrokenReport, ReportBroken, ReportNameTaken, ReportNotFound, ReportStore
from report_pipelines.store.workspaces import SecretKeyError, Workspace, WorkspaceNotFound, WorkspaceStore

__all__ = [
    "AuditEntry",
    "AuditLog",
    "BrokenReport",
    "ReportBroken",
    "Database",
    "DeliveryInDoubt",
    "DeliveryKey",
    "DeliveryLedger",
    "LedgerEntry",
    "NotFound",
    "ReportNameTaken",
    "ReportNotFound",
    "ReportStore",
    "ReportStoreUnavailable",
    "SecretKeyError",
    "Workspace",
    "WorkspaceNotFound",
    "WorkspaceStore",
    "cli_actor",
    "default_home",
    "store_url",
]
