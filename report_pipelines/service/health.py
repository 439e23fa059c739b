"""The health of every component a report needs, as one answer for the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from report_pipelines.analysts import analyst_from_env
from report_pipelines.health import CheckResult, run_health_checks
from report_pipelines.warehouses import warehouse_from_env


@dataclass(frozen=True)
class Health:
    checks: list[CheckResult]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {
            "healthy": self.healthy,
            "checks": [{"component": c.component, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def health(instance: dg.DagsterInstance, *, full: bool = True) -> Health:
    """Every check, or with ``full=False`` only those that call nothing outside the deployment
    (no warehouse query, no Slack auth.test, no Gemini call): what a non-admin API user gets."""
    return Health(run_health_checks(instance, warehouse=warehouse_from_env(), analyst=analyst_from_env(), external=full))
