"""Health checks of every component a report needs: the report store, Dagster's storage and
daemon, the warehouse, each active Slack workspace, and the analyst. Shared by the ``health``
job, ``report-pipelines health`` and ``GET /api/health``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from report_pipelines.slack.delivery import USER_ID_PATTERN, SlackDelivery, SlackDeliveryError
from report_pipelines.store import ReportStore, WorkspaceStore


@dataclass(frozen=True)
class CheckResult:
    component: str
    ok: bool
    detail: str


def _check(component: str, probe: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(component, True, probe())
    except Exception as err:  # noqa: BLE001 - a health check reports every failure as unhealthy
        return CheckResult(component, False, f"{type(err).__name__}: {err}")


def run_health_checks(
    instance: dg.DagsterInstance,
    *,
    warehouse,
    analyst,
    store: ReportStore | None = None,
    check_daemon: bool = True,
    external: bool = True,
) -> list[CheckResult]:
    """Every component a report needs, each reported on its own line; ``external=False`` leaves
    out the checks that call the warehouse, Slack or the analyst (a Gemini call is billed)."""
    store = store or ReportStore()
    workspaces = WorkspaceStore(store.url)
    results = [
        _check("report_store", lambda: _store_probe(store)),
        _check("reports", lambda: _reports_probe(store)),
        _check("dagster_storage", lambda: _storage_probe(instance)),
    ]
    if check_daemon:
        results.append(_check("dagster_daemon", lambda: _daemon_probe(instance)))
    if not external:
        return results
    results.append(_check("warehouse", warehouse.check))
    active = _check("slack_workspaces", lambda: f"{len(workspaces.list(active_only=True))} active")
    results.append(active)
    if active.ok:
        for workspace in workspaces.list(active_only=True):
            def probe(team_id=workspace.team_id) -> str:
                info = SlackDelivery(token=workspaces.token(team_id), team_id=team_id).auth_test()
                return f"auth.test ok for {info.get('team')} as {info.get('user_id')}"

            results.append(_check(f"slack:{workspace.team_id}", probe))
        results.append(_check("owners", lambda: _owners_probe(store, workspaces)))
    if hasattr(analyst, "check"):
        results.append(_check("analyst", analyst.check))
    return results


def _owners_probe(store: ReportStore, workspaces: WorkspaceStore) -> str:
    """Reports whose owner (a Slack user ID or email) is no longer an active member of the
    report's workspace: nobody gets their failure notices; reassign them."""
    from report_pipelines.slack.routing import workspace_for

    active = [workspace.team_id for workspace in workspaces.list(active_only=True)]
    if not active:
        return "no workspace to check owners in"
    verdicts: dict[tuple[str, str], bool] = {}
    clients: dict[str, SlackDelivery] = {}
    gone, checked = [], 0
    for report in store.list():
        owner = report.user_id
        if "@" not in owner and not USER_ID_PATTERN.fullmatch(owner):
            continue  # an API user id, not a Slack identity: nothing to ask Slack
        try:
            team_id = workspace_for(report.slug, report.slack_config, active)
        except SlackDeliveryError:
            continue
        if team_id is None:
            continue
        if (team_id, owner) not in verdicts:
            if team_id not in clients:
                clients[team_id] = SlackDelivery(token=workspaces.token(team_id), team_id=team_id)
            verdicts[(team_id, owner)] = clients[team_id].user_gone(owner)
            checked += 1
        if verdicts[(team_id, owner)]:
            gone.append(f"{report.slug} ({owner})")
    if gone:
        raise RuntimeError(
            f"{len(gone)} report(s) belong to users no longer in Slack: {', '.join(gone)}; give each a "
            "new owner with `report-pipelines reports reassign SLUG --to USER`"
        )
    return f"{checked} owner(s) checked in Slack, all active"


def _store_probe(store: ReportStore) -> str:
    if not store.tables_exist():
        raise RuntimeError("the report tables do not exist; run `report-pipelines init`")
    return f"{len(store.job_shaping_rows())} reports"


def _reports_probe(store: ReportStore) -> str:
    broken = store.list_broken()
    if broken:
        lines = "; ".join(f"{report.slug} (#{report.id}): {report.error}" for report in broken)
        raise RuntimeError(
            f"{len(broken)} stored report(s) cannot be built and are not scheduled: {lines}; "
            "repair each with `report-pipelines reports update SLUG FILE` or delete it"
        )
    return "every stored report can be built"


def _storage_probe(instance: dg.DagsterInstance) -> str:
    instance.get_run_records(limit=1)
    return f"{type(instance.run_storage).__name__} answered"


def _daemon_probe(instance: dg.DagsterInstance) -> str:
    statuses = instance.get_daemon_statuses()
    unhealthy = sorted(name for name, status in statuses.items() if not status.healthy)
    if unhealthy:
        raise RuntimeError(
            f"no recent heartbeat from {', '.join(unhealthy)}; start `dagster-daemon run` "
            "(or `dagster dev`) with this DAGSTER_HOME"
        )
    return f"{len(statuses)} daemons heartbeating"


