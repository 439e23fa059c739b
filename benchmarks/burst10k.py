"""1,000 of 10,000 stored reports due in the same minute, through the production topology with
Celery workers, until the last message reaches Slack.

The deployment is deploy/'s, started as separate processes on a fresh PostgreSQL database:
`dagster code-server start` (the report location, or for the baseline a bare location with the
same number of 4-op no-op partitioned jobs and schedules), `dagster-daemon run` (scheduler, run
queue, run monitoring) with deploy/dagster.celery.yaml, and `dagster-celery worker start`
processes, each with a DAGSTER_HOME of its own, on this machine's RabbitMQ and Redis.

Nothing is submitted by hand: every run comes from a schedule tick. The stored reports fall due
in bursts ("slots") a fixed gap apart, 1,000 reports each, the rest of the table spread over
hours far from them; before each slot the worker pool is resized, so one deployment measures
1, 2 and 4 worker processes. A slot's time runs from its due minute to the last message in the
local Slack (ours) or the last run's success (bare jobs post nothing). Lost: a due report with
no message for its window; duplicated: one with more than one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import yaml

from benchmarks.harness import (
    PROJECT_ROOT, BenchmarkError, Outcome, Row, clean_environment, free_port, register_group,
    run_worker, stop_group,
)

NAME = "burst10k"
GOAL_SECONDS = 600.0
GOAL_RATIO = 1.25
BIN = Path(sys.executable).parent
DEPLOY = PROJECT_ROOT / "deploy"
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
BACKEND = "redis://127.0.0.1:6379/0"
BARE_LOCATION = "bare_benchmark"
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"
REPORT_NAME = re.compile(r"Benchmark Report \d{5}")


def slot_times(first: dt.datetime, gap_minutes: int, count: int) -> list[dt.datetime]:
    return [first + dt.timedelta(minutes=gap_minutes * index) for index in range(count)]


def window_key(due: dt.datetime) -> str:
    """The key of the daily window a tick at ``due`` runs: the day that ends at it."""
    return (due - dt.timedelta(days=1)).strftime(PARTITION_FORMAT)


def quiet_hours(slots: list[dt.datetime]) -> list[int]:
    """UTC hours at least two hours from every slot: the rest of the table falls due there."""
    near = {(slot.hour + offset) % 24 for slot in slots for offset in range(-2, 3)}
    return [hour for hour in range(24) if hour not in near]


def schedule_of(index: int, stored: int, due: int, slots: list[dt.datetime]) -> tuple[int, int, int]:
    """(slot number or -1, hour, minute) of stored report ``index``: the first ``due`` reports of
    each slot fall due at it, the others at a quiet hour."""
    if index < due * len(slots):
        slot = slots[index // due]
        return index // due, slot.hour, slot.minute
    hours = quiet_hours(slots)
    return -1, hours[index % len(hours)], (index * 7) % 60


class Processes:
    """Long-running processes, each in its own process group with its own log."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                args, env=env, cwd=self.logs, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        register_group(process.pid)
        self.running[name] = process

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise BenchmarkError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self, name: str, grace: float = 30) -> None:
        process = self.running.pop(name, None)
        if process is not None:
            stop_group(process.pid, grace=grace)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop_all(self) -> None:
        # The daemon first, so nothing new is launched while the rest stop.
        for name in sorted(self.running, key=lambda name: name != "daemon"):
            self.stop(name)


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Services this machine runs beside the deployment, by process name: their CPU is part of a burst.
SERVICES = {"postgresql": "postgres", "rabbitmq": "beam.smp", "redis": "redis-server"}


def _process_table() -> dict[int, tuple[str, int, float]]:
    """pid -> (name, parent pid, CPU seconds of the process and its reaped children)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # utime, stime, cutime, cstime: a child's time joins its parent's once it is reaped.
        table[int(entry)] = (name, int(fields[1]), sum(int(value) for value in fields[11:15]) / TICKS)
    return table


def cpu_seconds(processes: Processes) -> dict[str, float]:
    """CPU seconds used so far by each part of the deployment: each started process with all its
    descendants (a Celery worker's per-run processes included), the services by name, and this
    process (the driver and the Slack stand-in)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in table.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        return table[pid][2] + sum(tree(child) for child in children.get(pid, [])) if pid in table else 0.0

    used = {}
    for name, process in processes.running.items():
        part = "workers" if name.startswith("worker-") else name
        used[part] = used.get(part, 0.0) + tree(process.pid)
    for service, process_name in SERVICES.items():
        roots = [pid for pid, (name, parent, _) in table.items()
                 if name == process_name and table.get(parent, ("",))[0] != process_name]
        used[service] = sum(tree(pid) for pid in roots)
    # The deployment's processes are this one's children: the driver is what is left.
    used["driver"] = tree(os.getpid()) - sum(tree(process.pid) for process in processes.running.values())
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    used["machine_busy"] = (sum(values) - values[3] - values[4]) / TICKS
    return used


def wait(processes: Processes, predicate, what: str, timeout: float, every: float = 1.0):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        processes.check()
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise BenchmarkError(f"{what} not seen within {timeout:.0f} s")


def _create_database() -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    name = f"bench_burst_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{POSTGRES}/{name}"


def _drop_database(url: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()


def _forget_queue(queue: str) -> None:
    import kombu

    with kombu.Connection(BROKER, connect_timeout=5) as connection:
        connection.default_channel.queue_delete(queue)
        connection.default_channel.exchange_delete(queue)


def _instance_yaml(queue: str) -> dict:
    """deploy/dagster.celery.yaml as shipped, on a queue of this measurement's own."""
    instance = yaml.safe_load((DEPLOY / "dagster.celery.yaml").read_text())
    instance["run_launcher"]["config"]["default_queue"] = queue
    return instance


def _worker_yaml(instance: dict) -> dict:
    config = {key: value for key, value in instance["run_launcher"]["config"].items() if key != "default_queue"}
    return {"execution": {"config": config}}


def _fill_reports(stored: int, due: int, slots: list[dt.datetime], slack_url: str) -> dict[int, list[str]]:
    """Store the reports (as ``ReportStore.add`` would shape them, in one transaction) and the
    Slack workspace; the names of each slot's reports."""
    from benchmarks.fixtures import Cadence, connect_workspace, report_spec
    from report_pipelines.store import ReportStore
    from report_pipelines.store.reports import _row_values, scheduled_reports

    store = ReportStore()
    store.create_tables()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    names: dict[int, list[str]] = {slot: [] for slot in range(len(slots))}
    values = []
    for index in range(stored):
        slot, hour, minute = schedule_of(index, stored, due, slots)
        spec = report_spec(index, schedule=Cadence(hour=hour, minute=minute, timezone="UTC"))
        if slot >= 0:
            names[slot].append(spec.name)
        values.append({**_row_values(spec), "created_at": now, "updated_at": now})
    with store.engine.begin() as conn:
        conn.execute(scheduled_reports.insert(), values)
    connect_workspace(store, slack_url)
    return names


def _bare_shapes(stored: int, due: int, slots: list[dt.datetime]) -> tuple[list[dict], dict[int, list[str]]]:
    from benchmarks.fixtures import START_DATE

    shapes, names = [], {slot: [] for slot in range(len(slots))}
    for index in range(stored):
        slot, hour, minute = schedule_of(index, stored, due, slots)
        name = f"bare_benchmark_report_{index:05d}"
        shapes.append({"name": name, "cron": f"{minute} {hour} * * *", "timezone": "UTC", "start": f"{START_DATE}-00:00"})
        if slot >= 0:
            names[slot].append(name)
    return shapes, names


def _schedule_states(instance) -> int:
    from dagster._core.scheduler.instigation import InstigatorType

    return len(instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE))


def _run_phases(instance, records) -> list[dict]:
    import dagster as dg

    runs = []
    for record in records:
        marks: dict[str, float] = {}
        for entry in instance.all_logs(record.dagster_run.run_id, of_type={
            dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING,
            dg.DagsterEventType.RUN_START, dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE,
        }):
            kind = entry.dagster_event.event_type
            key = {
                dg.DagsterEventType.RUN_ENQUEUED: "enqueued", dg.DagsterEventType.RUN_STARTING: "starting",
                dg.DagsterEventType.RUN_START: "start",
            }.get(kind, "end")
            marks.setdefault(key, entry.timestamp)
        runs.append({
            "job": record.dagster_run.job_name, "status": record.dagster_run.status.value,
            "created": record.create_timestamp.timestamp(),
            "retry_of": record.dagster_run.tags.get("dagster/parent_run_id"), **marks,
        })
    return runs


def _slot_statistics(runs: list[dict], due_at: float) -> dict:
    import statistics

    def median_of(first: str, last: str) -> float | None:
        spans = [run[last] - run[first] for run in runs if first in run and last in run]
        return round(statistics.median(spans), 2) if spans else None

    created = sorted(run["created"] - due_at for run in runs)
    return {
        "runs": len(runs),
        "succeeded": sum(1 for run in runs if run["status"] == "SUCCESS"),
        "failed": sum(1 for run in runs if run["status"] in ("FAILURE", "CANCELED")),
        "retries": sum(1 for run in runs if run["retry_of"]),
        "first_run_created_seconds": round(created[0], 1) if created else None,
        "last_run_created_seconds": round(created[-1], 1) if created else None,
        "median_queue_wait_seconds": median_of("created", "starting"),
        "median_start_seconds": median_of("starting", "start"),
        "median_execution_seconds": median_of("start", "end"),
    }


def measure(kind: str, stored: int, due: int, workers: list[int], first_margin_minutes: int,
            gap_minutes: int, last_timeout: float) -> dict:
    """One deployment (``kind`` "ours" or "bare"), one slot per entry of ``workers``."""
    import dagster as dg
    from cryptography.fernet import Fernet

    from benchmarks.fixtures import build_warehouse, fake_slack

    home = Path(os.environ["DAGSTER_HOME"])
    # Beside DAGSTER_HOME, not in it: Dagster treats $DAGSTER_HOME/logs as its own.
    logs = home.parent / "process_logs"
    logs.mkdir(exist_ok=True)
    queue = f"report_runs_bench_{uuid.uuid4().hex[:8]}"
    instance_yaml = _instance_yaml(queue)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
    grpc_port = free_port()
    url = _create_database()
    slack = fake_slack()
    processes = Processes(logs)
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    slots = slot_times(now + dt.timedelta(minutes=first_margin_minutes), gap_minutes, len(workers))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_PG_URL": url, "REPORT_STORE_URL": url,
        "WAREHOUSE_URL": f"duckdb:///{home / 'demo_warehouse.duckdb'}",
        "REPORT_PIPELINES_CELERY_BROKER": BROKER, "REPORT_PIPELINES_CELERY_BACKEND": BACKEND,
        "REPORT_PIPELINES_CODE_SERVER_HOST": "127.0.0.1", "REPORT_PIPELINES_CODE_SERVER_PORT": str(grpc_port),
        "SLACK_API_URL": slack.url,
        # A location of 10,000 jobs takes Dagster minutes to snapshot on 2 cores (README).
        "DAGSTER_REPOSITORY_GRPC_TIMEOUT_SECONDS": "600",
        "PYTHONPATH": str(PROJECT_ROOT),
        "REPORT_PIPELINES_SECRET_KEY": Fernet.generate_key().decode(),
    }
    os.environ.update(env)
    timings: dict[str, float] = {}
    results: list[dict] = []
    try:
        began = time.monotonic()
        build_warehouse(home)
        migrated = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env,
                                  capture_output=True, text=True, timeout=300)
        if migrated.returncode:
            raise BenchmarkError(f"dagster instance migrate failed:\n{migrated.stdout}{migrated.stderr}")
        if kind == "ours":
            names = _fill_reports(stored, due, slots, slack.url)
            # As deployed (README): the op pools exist before the first burst claims slots.
            done = subprocess.run([str(BIN / "report-pipelines"), "init"], env=env, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode:
                raise BenchmarkError(f"report-pipelines init failed:\n{done.stdout}{done.stderr}")
            workspace = DEPLOY / "workspace.yaml"
            server = ["-m", "report_pipelines.definitions", "-a", "defs", "--location-name", "report_pipelines"]
        else:
            shapes, names = _bare_shapes(stored, due, slots)
            (home / "bare_shapes.json").write_text(json.dumps(shapes))
            env["BENCHMARKS_BARE_SHAPES"] = str(home / "bare_shapes.json")
            workspace = home / "workspace.yaml"
            workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
                "host": "127.0.0.1", "port": grpc_port, "location_name": BARE_LOCATION}}]}))
            server = ["-m", "benchmarks.bare_location", "-a", "defs", "--location-name", BARE_LOCATION]
        timings["setup_seconds"] = time.monotonic() - began
        processes.start("code-server", [str(BIN / "dagster"), "code-server", "start", *server,
                                        "-h", "127.0.0.1", "-p", str(grpc_port)], env)
        processes.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env)
        with dg.DagsterInstance.get() as instance:
            # The scheduler records a state for every running schedule on its first pass over
            # the loaded location: from then on, ticks are evaluated.
            wait(processes, lambda: _schedule_states(instance) >= stored, "the daemon's schedules",
                 timeout=max(120.0, (slots[0] - dt.datetime.now(dt.timezone.utc)).total_seconds() - 45), every=5)
            timings["daemon_ready_seconds"] = time.monotonic() - began
            for slot, (due_at, count) in enumerate(zip(slots, workers)):
                _resize_workers(processes, env, home, instance_yaml, count, kind)
                if dt.datetime.now(dt.timezone.utc) > due_at - dt.timedelta(seconds=20):
                    raise BenchmarkError(f"slot {slot} at {due_at:%H:%M} UTC came before the workers were ready")
                last = slot == len(slots) - 1
                deadline = due_at.timestamp() + (last_timeout if last else gap_minutes * 60 - 90)
                results.append(_watch_slot(processes, instance, slack, kind, names[slot], due_at, deadline, count))
    finally:
        processes.stop_all()
        slack.stop()
        # The processes' logs outlive the temporary home, for reading after a surprise.
        kept = Path(tempfile.gettempdir()) / f"{NAME}_{kind}_logs"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(logs, kept)
        try:
            _forget_queue(queue)
        except Exception as err:  # noqa: BLE001 - cleanup only; the measurement stands
            print(f"could not delete queue {queue}: {err}", file=sys.stderr)
        from report_pipelines.store.database import Database

        Database.close(url)
        _drop_database(url)
    return {"kind": kind, "stored": stored, "due": due, **{k: round(v, 1) for k, v in timings.items()},
            "slots": results}


def _resize_workers(processes: Processes, env: dict, home: Path, instance_yaml: dict, count: int, kind: str) -> None:
    for name in [name for name in processes.running if name.startswith("worker-")]:
        processes.stop(name, grace=60)
    for number in range(1, count + 1):
        name = f"worker-{number}"
        worker_home = home / f"{name}_home"
        shutil.rmtree(worker_home, ignore_errors=True)
        worker_home.mkdir()
        (worker_home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
        (worker_home / "celery.yaml").write_text(yaml.safe_dump(_worker_yaml(instance_yaml)))
        (processes.logs / f"{name}.log").unlink(missing_ok=True)
        processes.start(name, [
            str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(worker_home / "celery.yaml"), "-q", instance_yaml["run_launcher"]["config"]["default_queue"],
            "-n", name, *(["-i", "report_pipelines.definitions"] if kind == "ours" else ["-i", "benchmarks.bare_location"]),
        ], {**env, "DAGSTER_HOME": str(worker_home)})
    for number in range(1, count + 1):
        wait(processes, lambda: " ready." in processes.log(f"worker-{number}"), f"worker-{number} ready", 120)


def _report_name(text: str) -> str | None:
    found = REPORT_NAME.search(text)
    return found.group(0) if found else None


def _watch_slot(processes, instance, slack, kind: str, names: list[str], due_at: dt.datetime,
                deadline: float, workers: int) -> dict:
    """Wait out one slot: until every report due at it is delivered (or its run succeeded), all
    its runs have ended, or ``deadline`` (epoch seconds) passed."""
    import dagster as dg

    key = window_key(due_at)
    text_key = f"{key[:10]} {key[11:]}"
    wanted = set(names)
    due_ts = due_at.timestamp()
    cpu_before = cpu_seconds(processes)
    arrivals: dict[str, list[float]] = {}
    seen = 0
    done_at = None
    while time.time() < deadline:
        processes.check()
        if kind == "ours":
            posts = slack.posts
            for post in posts[seen:]:
                if post["thread_ts"] or text_key not in post["text"]:
                    continue
                name = _report_name(post["text"])
                if name in wanted:
                    arrivals.setdefault(name, []).append(time.time() - due_ts)
            seen = len(posts)
            if len(arrivals) >= len(wanted):
                done_at = max(times[0] for times in arrivals.values())
                break
        else:
            records = instance.get_run_records(dg.RunsFilter(
                tags={"dagster/partition": key}, statuses=[dg.DagsterRunStatus.SUCCESS]))
            if len({record.dagster_run.job_name for record in records}) >= len(wanted):
                break
        time.sleep(0.25 if kind == "ours" else 2)
    # Let runs that have posted record their success, and any retry finish, before counting.
    finish_by = min(deadline, time.time() + 120)
    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]
    while time.time() < finish_by and instance.get_run_records(dg.RunsFilter(statuses=active), limit=1):
        time.sleep(2)
    if kind == "ours":
        for post in slack.posts[seen:]:
            if not post["thread_ts"] and text_key in post["text"]:
                name = _report_name(post["text"])
                if name in wanted:
                    arrivals.setdefault(name, []).append(time.time() - due_ts)
    cpu_after = cpu_seconds(processes)
    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": key}))
    runs = [run for run in _run_phases(instance, records) if kind == "ours" or run["job"] in wanted]
    if kind == "bare":
        ends = [run["end"] - due_ts for run in runs if run["status"] == "SUCCESS" and "end" in run]
        succeeded_jobs = {run["job"] for run in runs if run["status"] == "SUCCESS"}
        done_at = max(ends) if len(succeeded_jobs) >= len(wanted) else None
        delivered, duplicated = len(succeeded_jobs), sum(
            count - 1 for count in Counter(run["job"] for run in runs if run["status"] == "SUCCESS").values())
    else:
        delivered = len(arrivals)
        duplicated = sum(len(times) - 1 for times in arrivals.values())
    return {
        "due": due_at.isoformat(), "window": key, "workers": workers, "reports": len(wanted),
        "delivered": delivered, "lost": len(wanted) - delivered, "duplicated": duplicated,
        "seconds_to_last": round(done_at, 1) if done_at is not None else None,
        "run_statistics": _slot_statistics(runs, due_ts),
        # From shortly before the due minute until the slot's runs had all ended.
        "cpu_seconds": {part: round(cpu_after.get(part, 0.0) - used, 1) for part, used in cpu_before.items()},
    }


def run(quick: bool) -> Outcome:
    stored, due = (600, 50) if quick else (10_000, 1_000)
    workers = [2] if quick else [2, 4, 1]
    outcome = Outcome(NAME)
    measured = {}
    for kind, counts in (("ours", workers), ("bare", [2])):
        with _home(kind) as home:
            env = clean_environment(DAGSTER_HOME=str(home))
            margin, gap = (5, 6) if quick else (9, 12)
            last_timeout = 300.0 if quick else 1500.0
            timeout = 60 * (margin + gap * len(counts)) + last_timeout + 600
            measured[kind] = run_worker(
                "benchmarks.burst10k:measure",
                {"kind": kind, "stored": stored, "due": due, "workers": counts,
                 "first_margin_minutes": margin, "gap_minutes": gap, "last_timeout": last_timeout},
                env=env, timeout=timeout,
            )
    outcome.details = measured
    bare = next((slot for slot in measured["bare"]["slots"] if slot["workers"] == 2), None)
    for slot in measured["ours"]["slots"]:
        seconds = slot["seconds_to_last"]
        stats = slot["run_statistics"]
        note = (
            f"{slot['delivered']}/{slot['reports']} delivered, {slot['lost']} lost, {slot['duplicated']} duplicated; "
            f"runs created by {stats['last_run_created_seconds']} s after the due minute; median queue wait "
            f"{stats['median_queue_wait_seconds']} s, start {stats['median_start_seconds']} s, execution "
            f"{stats['median_execution_seconds']} s; {stats['retries']} retried"
        )
        note += "; " + cpu_note(slot)
        case = f"{slot['reports']} of {stored:,} reports due in one minute, {slot['workers']} Celery worker(s)"
        exact = slot["lost"] == 0 and slot["duplicated"] == 0
        if slot["workers"] == 2 and bare and bare["seconds_to_last"] and seconds:
            ratio = seconds / bare["seconds_to_last"]
            outcome.rows.append(Row(
                benchmark="burst on Celery workers", case=case, ours=seconds, unit="s",
                baseline=bare["seconds_to_last"], ratio=ratio,
                goal=f"≤ {GOAL_SECONDS:g} s, ≤ {GOAL_RATIO:g}× bare, 0 lost, 0 duplicated",
                met=exact and seconds <= GOAL_SECONDS and ratio <= GOAL_RATIO,
                note=note + f"; bare 4-op no-op jobs: {bare['delivered']}/{bare['reports']} succeeded",
            ))
        else:
            outcome.rows.append(Row(
                benchmark="burst on Celery workers", case=case, ours=seconds, unit="s",
                goal=f"≤ {GOAL_SECONDS:g} s" if slot["workers"] == 2 else "report",
                met=(exact and seconds is not None and seconds <= GOAL_SECONDS) if slot["workers"] == 2 else None,
                note=note,
            ))
    return outcome


def cpu_note(slot: dict) -> str:
    """CPU seconds per run by part of the deployment, e.g. ``CPU per run: workers 2.26 s, ...``."""
    runs = max(1, slot["run_statistics"]["runs"])
    parts = {part: used for part, used in slot.get("cpu_seconds", {}).items() if part != "machine_busy"}
    listed = ", ".join(f"{part} {used / runs:.2f} s" for part, used in sorted(parts.items(), key=lambda item: -item[1]))
    return f"CPU per run: {listed} (total {sum(parts.values()) / runs:.2f} s)"


def _home(kind: str):
    import contextlib

    @contextlib.contextmanager
    def folder():
        with tempfile.TemporaryDirectory(prefix=f"bench_{NAME}_{kind}_") as path:
            home = Path(path) / "dagster_home"
            home.mkdir()
            yield home

    return folder()
