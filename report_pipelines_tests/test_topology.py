"""The production topology, as deploy/ ships it: `dagster code-server start`, `dagster-webserver`
and `dagster-daemon run` as three separate processes on one PostgreSQL instance, the webserver and
the daemon both clients of the one code server (deploy/workspace.yaml, deploy/dagster.yaml).

A report added with the CLI becomes a job and schedule by live sync, the daemon runs its
every-minute schedule and the message reaches Slack; deleting the report stops it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from report_pipelines_tests.dagster_dev import REPO_QUERY, free_port, graphql, stop_process_group
from report_pipelines_tests.test_postgres import fresh_postgres_database
from report_pipelines_tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
SLACK_TOKEN = "xoxb-4266-topology"
REPORT = {
    "name": "Topology Check",
    "description": "Revenue by region, every minute",
    "query": "SELECT region, SUM(units) AS units, SUM(revenue) AS revenue FROM sales GROUP BY region ORDER BY region",
    "schedule": {"cron": "* * * * *", "timezone": "UTC"},
    "user_id": "alice",
    "slack_config": {"notification_type": "channel", "slack_channel": "#sales"},
    "analysis": {"mode": "quick", "audience": "analyst"},
}
SLUG = "topology_check"
JOB = f"report_{SLUG}"
SCHEDULE = f"report_{SLUG}_schedule"
# The daemon re-reads its workspace from the code server at least this often (dagster's
# RELOAD_WORKSPACE_INTERVAL); a deleted schedule may still tick until then.
DAEMON_WORKSPACE_REFRESH_SECONDS = 60

WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus displayMetadata { key value }
    locationOrLoadError {
      __typename
      ... on RepositoryLocation { serverId isReloadSupported }
      ... on PythonError { message }
    }
} } } }
"""
SCHEDULED_RUNS = """
query Runs($schedule: String!) {
  runsOrError(filter: {tags: [{key: "dagster/schedule_name", value: $schedule}]}) {
    ... on Runs { results {
      runId status jobName creationTime
      tags { key value }
      repositoryOrigin { repositoryLocationName repositoryLocationMetadata { key value } }
    } }
  }
}
"""


class Topology:
    """The three long-running processes, each in its own process group with its own log."""

    def __init__(self, env: dict, logs: Path):
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            list(args), env=self.env, cwd=self.logs, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"

    def tails(self, chars: int = 4000) -> str:
        return "\n".join(
            f"----- {path.name} (last {chars} chars) -----\n{path.read_text(errors='replace')[-chars:]}"
            for path in sorted(self.logs.glob("*.log"))
        )

    def group_commands(self, name: str) -> list[str]:
        """Command lines of every live process in ``name``'s process group (its children too)."""
        pgid = self.processes[name].pid
        commands = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    commands.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
        return commands

    def stop(self) -> None:
        # The daemon first, so nothing new is launched while the others stop; the code servers
        # (and anything else) after, with the run workers they spawned in their process groups.
        order = ["daemon", "webserver", *(name for name in self.processes if name not in ("daemon", "webserver"))]
        for name in order:
            if name in self.processes and self.processes[name].poll() is None:
                stop_process_group(self.processes[name])


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "report-pipelines"), *args], env=env, capture_output=True, text=True, timeout=120)


def dagster_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dagster"), *args], env=env, capture_output=True, text=True, timeout=180)


def wait_for(topology: Topology, predicate, what: str, timeout: float):
    """Poll ``predicate`` every second until it returns something truthy."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        topology.alive()
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise AssertionError(f"{what} not seen within {timeout:.0f} s")


@pytest.mark.integration
def test_code_server_webserver_and_daemon_run_a_report_schedule(home, secret_key, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    # The CLI's fallback launch path reads $DAGSTER_HOME/workspace.yaml: the same code server.
    shutil.copy(ROOT / "deploy" / "workspace.yaml", home / "workspace.yaml")
    workspace = str(ROOT / "deploy" / "workspace.yaml")
    grpc_port, web_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"

    with fresh_postgres_database() as url, FakeSlack(tokens={SLACK_TOKEN: "T0001"}) as slack:
        env = {
            **os.environ,
            "DAGSTER_PG_URL": url,
            "REPORT_STORE_URL": url,
            "REPORT_PIPELINES_CODE_SERVER_HOST": "127.0.0.1",
            "REPORT_PIPELINES_CODE_SERVER_PORT": str(grpc_port),
            "DAGSTER_WEBSERVER_URL": web,
            "SLACK_API_URL": slack.url,
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
        }
        topology = Topology(env, logs)
        try:
            # Dagster's schema first, from one process, so the servers never race its migration.
            migrated = dagster_cli(env, "instance", "migrate")
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            for args in (("init",), ("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme")):
                done = cli(env, *args)
                assert done.returncode == 0, done.stdout + done.stderr

            start_dagster(topology, workspace, grpc_port, web_port)

            def location():
                entries = graphql(web, WORKSPACE)["workspaceOrError"]["locationEntries"]
                entry = entries[0]
                loaded = entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                return entries if loaded else None

            entries = wait_for(topology, location, "the code location in the webserver", 180)
            wait_for(topology, lambda: any(j["name"] == "health" for j in graphql(web, REPO_QUERY)
                     ["repositoriesOrError"]["nodes"][0]["jobs"]), "the location's jobs", 60)  # fmt: skip

            # One location, served by the code server on grpc_port, with reloads supported.
            assert [e["name"] for e in entries] == ["report_pipelines"]
            metadata = {m["key"]: m["value"] for m in entries[0]["displayMetadata"]}
            assert metadata == {"host": "127.0.0.1", "port": str(grpc_port)}, metadata
            first_server_id = entries[0]["locationOrLoadError"]["serverId"]
            assert first_server_id and entries[0]["locationOrLoadError"]["isReloadSupported"]

            # Report added with the CLI: every-minute windows from yesterday, so complete ones exist.
            report = dict(REPORT, schedule={**REPORT["schedule"], "start_date": str(dt.date.today() - dt.timedelta(days=1))})
            path = tmp_path / "report.yaml"
            path.write_text(yaml.safe_dump(report))
            # The scheduler looks at schedules on minute boundaries, and a new schedule's first
            # tick is the boundary after the one it was first seen at: the run comes 60-120 s
            # after the reload, depending on the clock's phase. Adding just after a boundary
            # leaves live sync (sensor, reload run, code-server reload) up to ~115 s of the 3
            # minutes; added just before one, it would have ~60 s.
            time.sleep((62 - time.time() % 60) % 60)
            added_at = time.time()
            added = cli(env, "reports", "add", str(path))
            assert added.returncode == 0 and added.stdout.strip() == SLUG, added.stdout + added.stderr

            def in_workspace() -> tuple[set[str], set[str]]:
                repo = graphql(web, REPO_QUERY)["repositoriesOrError"]["nodes"][0]
                return {j["name"] for j in repo["jobs"]}, {s["name"] for s in repo["schedules"]}

            wait_for(topology, lambda: JOB in in_workspace()[0] and SCHEDULE in in_workspace()[1],
                     "the new report's job and schedule", 120)  # fmt: skip
            print(f"job and schedule in the webserver {time.time() - added_at:.1f} s after `reports add`")

            # The reload restarted the code server's code: the webserver follows the same server.
            entry = location()[0]
            assert {m["key"]: m["value"] for m in entry["displayMetadata"]} == metadata
            assert entry["locationOrLoadError"]["serverId"] not in (None, first_server_id)

            def scheduled_runs() -> list[dict]:
                return graphql(web, SCHEDULED_RUNS, {"schedule": SCHEDULE})["runsOrError"]["results"]

            # The daemon evaluates the schedule and launches a run within 3 minutes of the add.
            runs = wait_for(topology, scheduled_runs, "a run launched by the schedule", 180 - (time.time() - added_at))
            first = runs[-1]
            print(f"first scheduled run created {first['creationTime'] - added_at:.1f} s after `reports add`")
            assert first["creationTime"] - added_at < 180
            assert first["jobName"] == JOB
            tags = {t["key"]: t["value"] for t in first["tags"]}
            assert tags["dagster/schedule_name"] == SCHEDULE and tags["report_pipelines/report"] == SLUG
            # The daemon created it from its own workspace: the location served on grpc_port.
            origin = first["repositoryOrigin"]
            assert origin["repositoryLocationName"] == "report_pipelines"
            assert {m["key"]: m["value"] for m in origin["repositoryLocationMetadata"]} == metadata

            def finished(run_id: str) -> str | None:
                status = next(r["status"] for r in scheduled_runs() if r["runId"] == run_id)
                return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

            status = wait_for(topology, lambda: finished(first["runId"]), "the scheduled run's end", 120)
            assert status == "SUCCESS", status
            window = tags["dagster/partition"]
            window_text = window[:10] + " " + window[11:]
            assert any(p["channel"] == "C0SALES" and "Topology Check" in p["text"] and window_text in p["text"]
                       for p in slack.posts), slack.posts  # fmt: skip

            # Only the code server loads the location: the webserver and the daemon spawned no
            # code server of their own; the code server runs the location in its child process.
            for name in ("webserver", "daemon"):
                commands = topology.group_commands(name)
                assert len(commands) == 1 and not any("api grpc" in c or "code-server" in c for c in commands), commands
            assert any("api grpc" in c for c in topology.group_commands("code-server")), topology.group_commands("code-server")

            # Deleted with the CLI: the schedule leaves the workspace, and no new run starts once
            # the daemon has refreshed its workspace.
            deleted = cli(env, "reports", "delete", SLUG)
            assert deleted.returncode == 0, deleted.stdout + deleted.stderr
            wait_for(topology, lambda: SCHEDULE not in in_workspace()[1] and JOB not in in_workspace()[0],
                     "the deleted report's schedule gone", 120)  # fmt: skip
            gone_at = time.time()
            print(f"schedule gone from the webserver {gone_at - added_at:.1f} s after `reports add`")
            quiet_from = gone_at + DAEMON_WORKSPACE_REFRESH_SECONDS + 5
            # Watch past the scheduler's first minute after the daemon has surely refreshed, plus
            # time for a tick there to have created its run.
            watch_until = (quiet_from // 60 + 1) * 60 + 20
            while time.time() < watch_until:
                topology.alive()
                time.sleep(2)
            late = [r for r in scheduled_runs() if r["creationTime"] >= quiet_from]
            assert not late, f"runs of the deleted schedule after the daemon refreshed: {late}"
            print(f"{len(scheduled_runs())} scheduled runs in all; test body took {time.time() - added_at:.1f} s after the add")
        except BaseException:
            # Each process's log tail, in the test's captured output.
            print(topology.tails())
            raise
        finally:
            topology.stop()


def group_pids(topology: Topology, name: str) -> set[int]:
    """Process ids of every live process in ``name``'s process group (its children too)."""
    pgid = topology.processes[name].pid
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == pgid:
                pids.add(int(entry.name))
        except ProcessLookupError:
            continue
    return pids


def kill_group(topology: Topology, name: str) -> None:
    """SIGKILL ``name``'s whole process group, as losing its host would end it, and stop
    counting it among the processes ``alive`` checks and ``stop`` stops."""
    import signal

    process = topology.processes.pop(name)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_dagster(topology: Topology, workspace: str, grpc_port: int, web_port: int) -> None:
    """deploy/'s code server, webserver and daemon, each in its own process group."""
    topology.start(
        "code-server", str(BIN / "dagster"), "code-server", "start", "-m", "report_pipelines.definitions",
        "-a", "defs", "--location-name", "report_pipelines", "-h", "127.0.0.1", "-p", str(grpc_port),
    )  # fmt: skip
    topology.start("webserver", str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port))
    topology.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", workspace)


def wait_for_location(topology: Topology, web: str, timeout: float = 180) -> list[dict]:
    """The webserver's workspace entries once the code location has loaded with its jobs."""

    def loaded():
        entries = graphql(web, WORKSPACE)["workspaceOrError"]["locationEntries"]
        entry = entries[0]
        ready = entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        return entries if ready else None

    entries = wait_for(topology, loaded, "the code location in the webserver", timeout)
    wait_for(topology, lambda: any(j["name"] == "health" for j in graphql(web, REPO_QUERY)
             ["repositoriesOrError"]["nodes"][0]["jobs"]), "the location's jobs", 60)  # fmt: skip
    return entries
