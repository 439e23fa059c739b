"""The ``report-pipelines`` command: thin adapters over :mod:`report_pipelines.service`.

Each command parses its input, calls one service function and prints the answer; what an
operation means is decided in the service, so the CLI and the REST API give the same answers.
Exit codes: 0 done, 1 failed (a run failed, a component is unhealthy, something is missing),
2 invalid input (nothing was changed).
"""

from report_pipelines.cli import apply, audit, deliveries, deploy, reports, runs, serve, workspaces  # commands register on main
from report_pipelines.cli.common import main

__all__ = ["apply", "audit", "deliveries", "deploy", "main", "reports", "runs", "serve", "workspaces"]
