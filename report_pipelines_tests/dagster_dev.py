"""A real `dagster dev` for integration tests, started in its own process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    jobs { name }
    schedules { name scheduleState { status } }
} } } }
"""
PARTITION_STATUSES = """
query Statuses($selector: RepositorySelector!, $name: String!) {
  partitionSetOrError(repositorySelector: $selector, partitionSetName: $name) {
    ... on PartitionSet { partitionStatusesOrError { ... on PartitionStatuses {
      results { partitionName runStatus } } } }
  }
}
"""
RELOAD_RUNS = """
{ runsOrError(filter: {pipelineName: "reload_report_definitions", statuses: [SUCCESS]}) {
  ... on Runs { results { runId } } } }
"""


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    answer = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]


def partition_status(server, job: str, key: str) -> str | None:
    """The status the job's Partitions tab shows for window ``key`` (None: missing), read with the
    UI's own GraphQL query from ``server`` (anything with a ``url``)."""
    data = graphql(server.url, PARTITION_STATUSES, {
        "selector": {"repositoryLocationName": "report_pipelines", "repositoryName": "__repository__"},
        "name": f"{job}_partition_set",
    })  # fmt: skip
    results = data["partitionSetOrError"]["partitionStatusesOrError"]["results"]
    return next((r["runStatus"] for r in results if r["partitionName"] == key), None)


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGINT to the process group of a server started with ``start_new_session=True`` (so
    dagster dev's webserver, daemon and code server all get it), SIGKILL after 60 s."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dev:
    def __init__(self, home: Path, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "DAGSTER_WEBSERVER_URL": self.url}
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(self.port)],
            env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables)

    def repo(self) -> dict:
        nodes = self.graphql(REPO_QUERY)["repositoriesOrError"].get("nodes") or [{}]
        return nodes[0]

    def reload_runs(self) -> int:
        data = self.graphql(RELOAD_RUNS)["runsOrError"]
        return len(data["results"])

    def wait_for(self, predicate, what: str, timeout: float = 60) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if predicate():
                    return time.monotonic() - started
            except (requests.RequestException, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError(f"{what} not seen within {timeout} s\n{self.log.read_text()[-3000:]}")

    def stop(self):
        stop_process_group(self.process)
