"""A burst of reports due in the same minute, through the daemon, until Slack has every message.

``dagster dev`` serves the project's workspace on a temporary DAGSTER_HOME with the project's
dagster.yaml; one window of every report is submitted in one GraphQL request (what the scheduler
does when many schedules tick together: queued runs), and the clock stops when the local Slack
holds one message per report. Every wait is bounded, and the server's process group is stopped
however the measurement ends.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.harness import (
    Outcome, Row, clean_environment, dagster_home, free_port, register_group, run_worker, stop_group,
)

NAME = "burst"
GOAL_SECONDS = 300.0
JOBS_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }
"""
DAEMONS_QUERY = """
{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }
"""
LAUNCH_RUNS = """
mutation Launch($list: [ExecutionParams!]!) {
  launchMultipleRuns(executionParamsList: $list) {
    __typename
    ... on LaunchMultipleRunsResult {
      launchMultipleRunsResult {
        __typename
        ... on LaunchRunSuccess { run { runId } }
        ... on PythonError { message }
        ... on InvalidSubsetError { message }
        ... on RunConfigValidationInvalid { errors { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""
ACTIVE_RUNS = """
{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
  ... on Runs { results { runId } } } }
"""
FAILED_RUNS = """
{ runsOrError(filter: {statuses: [FAILURE, CANCELED]}) { ... on Runs { results { runId jobName } } } }
"""


class _Server:
    """``dagster dev`` on a loopback port, in its own session so it can be stopped as a group."""

    def __init__(self, home: Path, env: dict[str, str]):
        import requests

        self._requests = requests
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = home / "dagster_dev.log"
        env["DAGSTER_WEBSERVER_URL"] = self.url
        port = self.url.rsplit(":", 1)[1]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml"),
                 "-h", "127.0.0.1", "-p", port],
                cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        register_group(self.process.pid)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 120) -> dict:
        response = self._requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

    def wait_for(self, predicate, what: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited while waiting for {what}:\n{self.tail()}")
            try:
                if predicate():
                    return time.monotonic() - started
            except (self._requests.RequestException, KeyError, TypeError, ValueError, RuntimeError):
                pass
            time.sleep(1)
        raise RuntimeError(f"{what} not ready within {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        # Run workers still in flight when the deadline passed may outlive the grace period;
        # they are killed with the group.
        stop_group(self.process.pid, grace=30)
        self.process.wait(timeout=10)


def _run_phases(instance, record) -> dict:
    """When one run was queued, launched, booted and finished (epoch seconds, None if never)."""
    import dagster as dg

    marks: dict[str, float] = {}
    for entry in instance.all_logs(record.dagster_run.run_id):
        event = entry.dagster_event
        kind = event.event_type if event else None
        if kind == dg.DagsterEventType.RUN_STARTING:
            marks.setdefault("starting", entry.timestamp)
        elif kind == dg.DagsterEventType.ENGINE_EVENT and "starting" in marks:
            # The launcher's "started process" event: the run worker exists from here on.
            marks.setdefault("process", entry.timestamp)
        elif kind == dg.DagsterEventType.RUN_START:
            marks.setdefault("start", entry.timestamp)
        elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
            marks.setdefault("end", entry.timestamp)
    run = record.dagster_run
    return {"status": run.status.value, "created": record.create_timestamp.timestamp(), **marks}


def _check_launched(answer: dict, expected: int) -> None:
    launched = [
        item for item in answer.get("launchMultipleRunsResult", [])
        if item["__typename"] == "LaunchRunSuccess"
    ]
    if len(launched) != expected:
        raise RuntimeError(f"only {len(launched)} of {expected} runs were submitted: {answer}")


def measure_burst(home: str, reports: int, timeout: float) -> dict:
    import dagster as dg

    from benchmarks.fixtures import (
        Cadence, build_warehouse, connect_workspace, fake_slack, report_spec, use_home,
    )
    from report_pipelines.names import CODE_LOCATION, job_name
    from report_pipelines.store import ReportStore
    from report_pipelines.names import REPOSITORY_NAME

    setup_began = time.monotonic()
    folder = use_home(home)
    build_warehouse(folder)
    store = ReportStore()
    store.create_tables()
    # All reports due at the same minute, half a day away, so their schedules cannot tick during
    # the measurement and add runs of their own.
    hour = (dt.datetime.now(dt.timezone.utc).hour + 12) % 24
    due = Cadence(hour=hour, minute=0, timezone="UTC")
    slugs = [store.add(report_spec(index, schedule=due)).slug for index in range(reports)]
    partition_key = f"2026-03-02-{due.time}"
    slack = fake_slack()
    server = None
    try:
        connect_workspace(store, slack.url)
        setup = time.monotonic() - setup_began
        server = _Server(folder, dict(os.environ))
        started = time.monotonic()
        last_job = job_name(slugs[-1])

        def location_loaded() -> bool:
            nodes = server.graphql(JOBS_QUERY)["repositoriesOrError"]["nodes"]
            return last_job in {job["name"] for job in nodes[0]["jobs"]}

        def queue_daemon_healthy() -> bool:
            health = server.graphql(DAEMONS_QUERY)["instance"]["daemonHealth"]
            return any(
                status["daemonType"] == "QUEUED_RUN_COORDINATOR" and status["healthy"]
                for status in health["allDaemonStatuses"]
            )

        server.wait_for(location_loaded, "the code location", timeout=240)
        loaded = time.monotonic() - started
        # Runs submitted before the run queue daemon is up would wait for its start-up, which
        # is not what a burst on a running deployment sees.
        server.wait_for(queue_daemon_healthy, "the run queue daemon", timeout=120)
        ready = time.monotonic() - started
        params = [
            {
                "selector": {
                    "repositoryLocationName": CODE_LOCATION, "repositoryName": REPOSITORY_NAME,
                    "jobName": job_name(slug),
                },
                "runConfigData": {},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition_key}]},
            }
            for slug in slugs
        ]
        # The webserver creates the runs one by one (a fraction of a second each) while the
        # daemon already launches the first ones, so Slack is watched during the submission too.
        submitter = ThreadPoolExecutor(max_workers=1)
        began = time.monotonic()
        submission = submitter.submit(server.graphql, LAUNCH_RUNS, {"list": params}, timeout=600)
        submitter.shutdown(wait=False)
        submitted: float | None = None
        arrivals: list[float] = []
        failed: list[dict] = []
        next_check = 0.0
        deadline = began + timeout
        while time.monotonic() < deadline:
            count = len(slack.posts)
            now = time.monotonic() - began
            arrivals.extend([now] * (count - len(arrivals)))
            if count >= reports:
                break
            if submitted is None and submission.done():
                submitted = now
                _check_launched(submission.result()["launchMultipleRuns"], reports)
            if now >= next_check:
                failed = server.graphql(FAILED_RUNS)["runsOrError"]["results"]
                if count + len(failed) >= reports:
                    break
                next_check = now + 5
            time.sleep(0.25)
        finished = arrivals[-1] if len(arrivals) >= reports else None
        # Stopping the server under a run that has posted but not yet recorded its success
        # would fail that run; let the last ones finish (not part of the timing).
        if finished is not None:
            server.wait_for(
                lambda: not server.graphql(ACTIVE_RUNS)["runsOrError"]["results"],
                "the last runs to finish", timeout=60,
            )
    finally:
        stopping = time.monotonic()
        if server is not None:
            server.stop()
        slack.stop()
        stop_seconds = time.monotonic() - stopping

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition_key}))
        runs = [_run_phases(instance, record) for record in records]
    return {
        "reports": reports, "posted": len(arrivals), "seconds_to_all": finished,
        "first_post_seconds": arrivals[0] if arrivals else None, "setup_seconds": setup,
        "location_load_seconds": loaded, "ready_seconds": ready, "submit_seconds": submitted,
        "stop_seconds": stop_seconds,
        "failed_runs": failed[:5], "failed_count": len(failed),
        "arrivals": [round(value, 2) for value in arrivals], "runs": runs,
    }


def _run_statistics(runs: list[dict]) -> dict:
    """Medians of each phase of a run, and how many ran at once."""

    def phase(first: str, last: str) -> float | None:
        spans = [run[last] - run[first] for run in runs if first in run and last in run]
        return round(statistics.median(spans), 2) if spans else None

    finished = [run for run in runs if "start" in run and "end" in run]
    events = sorted([(run["start"], 1) for run in finished] + [(run["end"], -1) for run in finished])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    launches = sorted(run["starting"] for run in runs if "starting" in run)
    gaps = [later - earlier for earlier, later in zip(launches, launches[1:])]
    return {
        "runs": len(runs), "succeeded": sum(1 for run in runs if run["status"] == "SUCCESS"),
        "median_queue_wait_seconds": phase("created", "starting"),
        "median_launch_seconds": phase("starting", "process"),
        "median_worker_boot_seconds": phase("process", "start"),
        "median_steps_seconds": phase("start", "end"),
        "median_seconds_between_launches": round(statistics.median(gaps), 2) if gaps else None,
        "peak_concurrent_runs": peak,
    }


def _projection(arrivals: list[float], reports: int) -> float | None:
    """When the last message would arrive at the rate the later messages came in."""
    if len(arrivals) < 3:
        return None
    # The first messages wait for the first workers to boot; the rate after them is the steady one.
    first, last = arrivals[len(arrivals) // 3], arrivals[-1]
    done = len(arrivals) - 1 - len(arrivals) // 3
    if done <= 0 or last <= first:
        return None
    return last + (reports - len(arrivals)) * (last - first) / done


def run(quick: bool) -> Outcome:
    reports = 10 if quick else 100
    # Past the goal plus a margin the answer is "missed"; the rate so far gives the projection,
    # and the rest of the run is not held up.
    timeout = 240.0 if quick else GOAL_SECONDS * 1.1
    outcome = Outcome(NAME)
    with dagster_home(NAME) as home:
        env = clean_environment(DAGSTER_HOME=str(home))
        result = run_worker(
            "benchmarks.burst:measure_burst",
            {"home": str(home), "reports": reports, "timeout": timeout},
            env=env, timeout=timeout + 600,
        )
    stats = _run_statistics(result.pop("runs"))
    seconds = result["seconds_to_all"]
    projected = seconds if seconds is not None else _projection(result["arrivals"], reports)
    outcome.details = {**result, "projected_seconds_to_all": projected, "run_statistics": stats}
    parts = [f"{result['posted']}/{reports} posted"]
    if seconds is None:
        parts[0] += f" in {timeout:.0f} s" + (f", all projected at {projected:.0f} s" if projected else "")
    parts.append(
        f"per run: launch {stats.get('median_launch_seconds')} s, worker boot "
        f"{stats.get('median_worker_boot_seconds')} s, steps {stats.get('median_steps_seconds')} s; "
        f"a launch every {stats.get('median_seconds_between_launches')} s, "
        f"peak {stats.get('peak_concurrent_runs')} run(s) executing steps at once"
    )
    outcome.rows.append(Row(
        benchmark="burst through the daemon", case=f"{reports} reports due at once",
        ours=seconds if seconds is not None else projected, unit="s",
        goal=f"≤ {GOAL_SECONDS:g} s", met=seconds is not None and seconds <= GOAL_SECONDS,
        note="; ".join(parts),
    ))
    return outcome
