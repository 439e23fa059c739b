"""Running measurements in fresh processes and reading their results back.

Each measurement runs in its own ``python -m benchmarks.worker`` process: module-level caches
(imports, engines, Slack channel cache) never leak from one measurement into the next, peak RSS
belongs to one measurement only, and a measurement's environment (DAGSTER_HOME, secret key,
Slack URL) never touches the parent's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_DIR = PROJECT_ROOT / "report_pipelines" / "instance"
# A worker appends the process group of every long-lived subprocess it starts to this file, so
# the parent can kill what a worker left behind if the worker itself had to be killed.
CHILD_GROUPS_ENV = "BENCHMARKS_CHILD_GROUPS"
# Variables that would point a measurement at real services or another instance.
PRODUCT_VARIABLES = (
    "DAGSTER_HOME", "REPORT_STORE_URL", "WAREHOUSE_URL", "BIGQUERY_API_ENDPOINT", "GOOGLE_API_KEY",
    "GEMINI_QUICK_MODEL", "GEMINI_DEEP_MODEL", "GOOGLE_GEMINI_BASE_URL", "SLACK_API_URL",
    "SLACK_BOT_TOKEN", "REPORT_PIPELINES_SECRET_KEY", "DAGSTER_WEBSERVER_URL",
    "REPORT_PIPELINES_OPS_CHANNEL", "DAGSTER_PG_URL",
)  # fmt: skip


class BenchmarkError(RuntimeError):
    """A measurement could not be taken; the message says which and why."""


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    case: str
    ours: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Outcome:
    """What one benchmark produced: its table rows and everything measured along the way."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "rows": [asdict(row) for row in self.rows],
            "details": self.details,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio_row(
    benchmark: str, case: str, ours: float, baseline: float, unit: str, goal: float, note: str = ""
) -> Row:
    ratio = ours / baseline if baseline else float("inf")
    return Row(
        benchmark=benchmark, case=case, ours=ours, baseline=baseline, ratio=ratio, unit=unit,
        goal=f"≤ {goal:g}×", met=ratio <= goal, note=note,
    )


def limit_row(
    benchmark: str, case: str, value: float, unit: str, limit: float, note: str = ""
) -> Row:
    return Row(
        benchmark=benchmark, case=case, ours=value, unit=unit,
        goal=f"≤ {limit:,g} {unit}".rstrip(), met=value <= limit, note=note,
    )


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without product settings, plus ``overrides``.

    Loopback servers only: slack_sdk and requests honour HTTP(S)_PROXY, so local addresses are
    exempted explicitly.
    """
    env = {key: value for key, value in os.environ.items() if key not in PRODUCT_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(overrides)
    return env


@contextmanager
def dagster_home(prefix: str) -> Iterator[Path]:
    """A temporary DAGSTER_HOME holding the project's dagster.yaml and workspace.yaml."""
    with tempfile.TemporaryDirectory(prefix=f"bench_{prefix}_") as folder:
        home = Path(folder) / "dagster_home"
        home.mkdir()
        for name in ("dagster.yaml", "workspace.yaml"):
            shutil.copy(INSTANCE_DIR / name, home / name)
        yield home


def run_worker(
    target: str, params: dict[str, Any], *, env: dict[str, str], timeout: float
) -> dict[str, Any]:
    """Run ``module:function(**params)`` in a fresh interpreter and return its JSON result.

    The worker is asked to stop with SIGTERM after ``timeout`` seconds (it cleans up the servers
    it started), and killed if it does not stop; any process group it registered is killed too.
    """
    with tempfile.TemporaryDirectory(prefix="bench_worker_") as folder:
        folder_path = Path(folder)
        params_file = folder_path / "params.json"
        result_file = folder_path / "result.json"
        log_file = folder_path / "worker.log"
        groups_file = folder_path / "groups"
        params_file.write_text(json.dumps(params))
        command = [sys.executable, "-m", "benchmarks.worker", target, str(params_file), str(result_file)]
        with log_file.open("wb") as log:
            # From the project root, ``-m`` finds benchmarks and report_pipelines_tests (the
            # local Slack), which the package install leaves out.
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**env, CHILD_GROUPS_ENV: str(groups_file)},
            )
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                raise BenchmarkError(f"{target} did not finish within {timeout:.0f} s") from None
            except BaseException:
                # Ctrl-C reaches the worker too (same process group); wait for its cleanup.
                try:
                    process.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                raise
            finally:
                kill_registered_groups(groups_file)
        if process.returncode != 0 or not result_file.exists():
            tail = log_file.read_text(errors="replace")[-4000:]
            error_file = result_file.with_suffix(".error")
            if error_file.exists():
                raise BenchmarkError(f"{error_file.read_text()}\n{target}'s log ends:\n{tail}")
            raise BenchmarkError(f"{target} failed with exit code {process.returncode}:\n{tail}")
        return json.loads(result_file.read_text())


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_group(pgid: int) -> None:
    """Record a process group this worker started (see :data:`CHILD_GROUPS_ENV`)."""
    path = os.environ.get(CHILD_GROUPS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{pgid}\n")


def kill_registered_groups(groups_file: Path) -> None:
    if not groups_file.exists():
        return
    for line in groups_file.read_text().split():
        stop_group(int(line), grace=0)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    # A leader that exited stays a zombie until its parent reaps it: reap any exited child of
    # ours in the group first.
    try:
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    # Orphans are reparented to PID 1, and a minimal init may never reap them; a zombie holds
    # no resources, so only live members keep the group alive.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(pgid: int, *, grace: float) -> None:
    """SIGINT the process group (Dagster shuts down cleanly on it), then SIGKILL what remains."""
    if not group_alive(pgid):
        return
    if grace > 0:
        os.killpg(pgid, signal.SIGINT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.2)
    if group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
