"""dagster-celery's CeleryRunLauncher, with a health check that notices a dead worker at once.

A worker killed in the middle of a run never updates its Celery task: the result backend keeps
saying STARTED, so the stock health check answers RUNNING until run monitoring's
``max_runtime_seconds`` gives up on the run. Here a started run's worker (Celery records its
hostname with the STARTED state) is also pinged: a worker that does not answer has lost the
run, which run monitoring then fails and run retries start again on a live worker. A live worker
answers pings from its main process, which never runs report code. If the broker is down, a
live worker can miss a ping and its run be retried while it still runs; the delivery ledger keeps
the retry from posting a second message.
"""

from __future__ import annotations

from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

WORKER_PING_TIMEOUT_SECONDS = 5


class ReportCeleryRunLauncher(CeleryRunLauncher):
    def check_run_worker_health(self, run):
        health = super().check_run_worker_health(run)
        if health.status != WorkerStatus.RUNNING:
            return health
        started = self.celery.AsyncResult(run.tags[DAGSTER_CELERY_TASK_ID_TAG]).info  # {"pid", "hostname"}
        hostname = started.get("hostname") if isinstance(started, dict) else None
        if hostname and not self.celery.control.ping(destination=[hostname], timeout=WORKER_PING_TIMEOUT_SECONDS):
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"Celery worker {hostname} (run process {started.get('pid')}) does not answer a ping: "
                "it stopped in the middle of the run",
            )
        return health
