"""Whole runs on a pool of Celery workers (deploy/dagster.celery.yaml): the production topology of
test_topology.py with dagster-celery's CeleryRunLauncher, RabbitMQ as broker, Redis as result
backend and two `dagster-celery worker start` processes, each with a DAGSTER_HOME of its own.

A report window run through the webserver executes on a worker and reaches Slack. A worker killed
in the middle of a run leaves its Celery task STARTED for good; the launcher's health check pings
the worker, run monitoring fails the run at its next poll, run retries run it again on the
surviving worker, and the window reaches the channel exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import sqlalchemy as sa
import yaml

from report_pipelines_tests.dagster_dev import free_port, graphql
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines_tests.test_postgres import fresh_postgres_database
from report_pipelines_tests.test_topology import (
    BIN,
    ROOT,
    Topology,
    cli,
    dagster_cli,
    group_pids,
    kill_group,
    start_dagster,
    wait_for,
    wait_for_location,
)

PRODUCTION_YAML = ROOT / "deploy" / "dagster.yaml"
CELERY_YAML = ROOT / "deploy" / "dagster.celery.yaml"
# The run_monitoring settings the Celery instance adds to the production one.
CELERY_MONITORING = {"max_runtime_seconds", "poll_interval_seconds", "max_resume_run_attempts"}
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
BACKEND = "redis://127.0.0.1:6379/0"
SLACK_TOKEN = "xoxb-4266-celery"
# A table the report's query reads: while the test holds an exclusive lock on it, the query waits.
GATE = "gate"
REPORT = {
    "name": "Celery Check",
    "description": "Revenue by region, run on a Celery worker",
    # The query reads the gate table (free unless the test locks it) with the sales, so the test
    # can hold a run inside its first step for as long as it likes.
    "query": (
        "SELECT s.region, SUM(s.units) AS units, SUM(s.revenue) AS revenue FROM sales AS s "
        f"CROSS JOIN (SELECT count(*) AS n FROM {GATE}) AS g GROUP BY s.region ORDER BY s.region"
    ),
    # Runs only when asked: no tick of its own competes with the runs the test launches.
    "schedule": {"cron": "* * * * *", "timezone": "UTC", "enabled": False},
    "user_id": "alice",
    "slack_config": {"notification_type": "channel", "slack_channel": "#sales"},
    "analysis": {"mode": "quick", "audience": "analyst"},
}
SLUG = "celery_check"
# The shipped 10 minutes: the dead worker must be found by the launcher's ping, not by age.
MAX_RUNTIME_SECONDS = 600
# Poll more often than the shipped 30 s, to keep the test short.
POLL_SECONDS = 10
RUNS = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) { ... on Runs { results { runId status tags { key value } } } }
}
"""
EVENTS = """
query Events($runId: ID!) {
  logsForRun(runId: $runId) { ... on EventConnection { events { __typename ... on MessageEvent { message } } } }
}
"""


def worker_config(instance: dict) -> dict:
    """A worker's `-y` file: the launcher's config under execution.config, less default_queue
    (the worker reads the celery executor's schema, which has no queue)."""
    config = {key: value for key, value in instance["run_launcher"]["config"].items() if key != "default_queue"}
    return {"execution": {"config": config}}


def test_celery_instance_is_the_production_instance_with_a_celery_launcher():
    production = yaml.safe_load(PRODUCTION_YAML.read_text())
    celery = yaml.safe_load(CELERY_YAML.read_text())
    launcher = celery.pop("run_launcher")
    assert (launcher["module"], launcher["class"]) == ("report_pipelines.celery_launcher", "ReportCeleryRunLauncher")
    assert launcher["config"]["broker"] == {"env": "REPORT_PIPELINES_CELERY_BROKER"}
    assert launcher["config"]["backend"] == {"env": "REPORT_PIPELINES_CELERY_BACKEND"}
    production_monitoring, celery_monitoring = production.pop("run_monitoring"), celery.pop("run_monitoring")
    # Everything else is a copy of deploy/dagster.yaml: a change to one must reach the other.
    assert celery == production
    assert {key: celery_monitoring[key] for key in production_monitoring} == production_monitoring
    assert set(celery_monitoring) - set(production_monitoring) <= CELERY_MONITORING
    assert celery_monitoring["enabled"] and celery.get("run_retries", {}).get("enabled")


def test_celery_launcher_and_worker_read_one_configuration(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import ConfigurableClassData
    from dagster_celery.cli import get_validated_config
    from dagster_celery.launcher import CeleryRunLauncher

    monkeypatch.setenv("REPORT_PIPELINES_CELERY_BROKER", BROKER)
    monkeypatch.setenv("REPORT_PIPELINES_CELERY_BACKEND", BACKEND)
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    shutil.copy(CELERY_YAML, tmp_path / "dagster.yaml")
    instance, _ = dagster_instance_config(str(tmp_path))  # Dagster's own schema check
    launcher_data = instance["run_launcher"]
    launcher = ConfigurableClassData(
        launcher_data["module"], launcher_data["class"], yaml.safe_dump(launcher_data["config"])
    ).rehydrate(CeleryRunLauncher)
    assert launcher.celery.conf.broker_url == BROKER and launcher.celery.conf.result_backend == BACKEND
    assert launcher.default_queue == "report_runs"
    assert launcher.supports_check_run_worker_health

    (tmp_path / "celery.yaml").write_text(yaml.safe_dump(worker_config(instance)))
    worker = get_validated_config(str(tmp_path / "celery.yaml"))
    assert (worker["broker"], worker["backend"]) == (BROKER, BACKEND)
    assert worker["config_source"] == launcher_data["config"]["config_source"]
    assert worker["config_source"]["task_acks_late"] is False


def celery_services_or_skip(queue: str) -> None:
    """Skip unless RabbitMQ and Redis answer; then purge ``queue`` so only this test's runs are in it."""
    import amqp
    import kombu
    import redis

    try:
        redis.Redis.from_url(BACKEND, socket_timeout=5).ping()
        kombu.Connection(BROKER, connect_timeout=5).ensure_connection(max_retries=1).release()
    except (OSError, redis.RedisError, kombu.exceptions.OperationalError) as err:
        pytest.skip(f"RabbitMQ at 127.0.0.1:5672 and Redis at 127.0.0.1:6379 are needed: {err}")
    with kombu.Connection(BROKER, connect_timeout=5) as connection:
        try:
            kombu.Queue(queue, channel=connection.default_channel).purge()
        except amqp.exceptions.NotFound:
            pass  # never declared: nothing in it


def task_meta(task_id: str) -> dict | None:
    """What the result backend holds for a Celery task: the state run monitoring reads, and
    for a STARTED task the worker and process that took it."""
    import redis

    meta = redis.Redis.from_url(BACKEND).get(f"celery-task-meta-{task_id}")
    return json.loads(meta) if meta else None


def forget_celery_state(queue: str, engine: sa.Engine) -> None:
    """Delete the test's queue and its exchange from RabbitMQ, and its runs' task states from Redis."""
    import kombu
    import redis

    with kombu.Connection(BROKER, connect_timeout=5) as connection:
        connection.default_channel.queue_delete(queue)
        connection.default_channel.exchange_delete(queue)
    if not sa.inspect(engine).has_table("run_tags"):
        return
    with engine.connect() as conn:
        tasks = conn.execute(sa.text("SELECT value FROM run_tags WHERE key = 'dagster-celery/task_id'")).scalars().all()
    if tasks:
        redis.Redis.from_url(BACKEND).delete(*(f"celery-task-meta-{task}" for task in tasks))


@pytest.mark.integration
def test_celery_workers_run_reports_and_a_run_of_a_lost_worker_is_retried_once(home, secret_key, tmp_path):
    queue = f"report_runs_test_{uuid.uuid4().hex[:12]}"
    celery_services_or_skip(queue)
    instance = yaml.safe_load(CELERY_YAML.read_text())
    instance["run_launcher"]["config"]["default_queue"] = queue
    assert instance["run_monitoring"]["max_runtime_seconds"] == MAX_RUNTIME_SECONDS
    instance["run_monitoring"]["poll_interval_seconds"] = POLL_SECONDS
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    shutil.copy(ROOT / "deploy" / "workspace.yaml", home / "workspace.yaml")
    workspace = str(ROOT / "deploy" / "workspace.yaml")
    # Each worker as on a host of its own: its own DAGSTER_HOME with the instance and its -y file.
    worker_homes = {name: tmp_path / f"{name}_home" for name in ("worker-a", "worker-b")}
    for worker_home in worker_homes.values():
        worker_home.mkdir()
        (worker_home / "dagster.yaml").write_text(yaml.safe_dump(instance))
        (worker_home / "celery.yaml").write_text(yaml.safe_dump(worker_config(instance)))
    logs = tmp_path / "logs"
    logs.mkdir()
    grpc_port, web_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    yesterday = str(dt.date.today() - dt.timedelta(days=1))

    with fresh_postgres_database() as url, FakeSlack(tokens={SLACK_TOKEN: "T0001"}) as slack:
        env = {
            **os.environ,
            # `dagster-celery worker start` runs `celery` from PATH.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_PG_URL": url,
            "REPORT_STORE_URL": url,
            "WAREHOUSE_URL": url,
            "REPORT_PIPELINES_CELERY_BROKER": BROKER,
            "REPORT_PIPELINES_CELERY_BACKEND": BACKEND,
            "REPORT_PIPELINES_CODE_SERVER_HOST": "127.0.0.1",
            "REPORT_PIPELINES_CODE_SERVER_PORT": str(grpc_port),
            "DAGSTER_WEBSERVER_URL": web,
            "SLACK_API_URL": slack.url,
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
        }
        topology = Topology(env, logs)
        workers = {name: Topology({**env, "DAGSTER_HOME": str(path)}, logs) for name, path in worker_homes.items()}
        engine = sa.create_engine(url)
        # Autocommit: pg_stat_activity is read afresh only in a new transaction.
        gate = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        held = None
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE sales (region TEXT, units INTEGER, revenue NUMERIC(12, 2))"))
                conn.execute(sa.text("INSERT INTO sales VALUES ('EU', 3, 120.50), ('US', 5, 310.00), ('EU', 1, 40.25)"))
                conn.execute(sa.text(f"CREATE TABLE {GATE} (open BOOLEAN)"))
            migrated = dagster_cli(env, "instance", "migrate")
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            report = dict(REPORT, schedule={**REPORT["schedule"], "start_date": yesterday})
            (tmp_path / "report.yaml").write_text(yaml.safe_dump(report))
            for args in (("init",), ("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme"),
                         ("reports", "add", str(tmp_path / "report.yaml"))):  # fmt: skip
                done = cli(env, *args)
                assert done.returncode == 0, done.stdout + done.stderr

            start_dagster(topology, workspace, grpc_port, web_port)
            for name, worker in workers.items():
                worker.start(
                    name, str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                    "-y", str(worker_homes[name] / "celery.yaml"), "-q", queue, "-n", name,
                    "-i", "report_pipelines.definitions",
                )  # fmt: skip
            wait_for_location(topology, web)
            for name, worker in workers.items():
                wait_for(worker, lambda: " ready." in (logs / f"{name}.log").read_text(), f"{name} ready", 60)

            def runs_of(window: str) -> list[dict]:
                found = graphql(web, RUNS, {"tags": [{"key": "dagster/partition", "value": window}]})
                return [dict(r, tags={t["key"]: t["value"] for t in r["tags"]}) for r in found["runsOrError"]["results"]]

            def messages(run_id: str) -> list[str]:
                return [e.get("message") or "" for e in graphql(web, EVENTS, {"runId": run_id})["logsForRun"]["events"]]

            def run_worker_pid(run_id: str) -> int:
                started = next(m for m in messages(run_id) if m.startswith("Started process for run (pid:"))
                return int(started.removeprefix("Started process for run (pid: ").removesuffix(").").strip())

            def worker_log(name: str) -> str:
                return (logs / f"{name}.log").read_text(errors="replace")

            def posts_of(window: str) -> list[dict]:
                text = window[:10] + " " + window[11:]
                return [p for p in slack.posts
                        if p["channel"] == "C0SALES" and not p["thread_ts"] and "Celery Check" in p["text"] and text in p["text"]]  # fmt: skip

            def ledger(window: str) -> list[dict]:
                with engine.connect() as conn:
                    rows = conn.execute(sa.text("SELECT status, run_id, ts FROM deliveries WHERE partition_key = :k"), {"k": window})
                    return [dict(row._mapping) for row in rows]

            # (a) A window run through the webserver: queued, sent to the broker by the daemon,
            # executed by one of the workers, delivered.
            done = cli(env, "run", SLUG)
            assert done.returncode == 0, done.stdout + done.stderr
            first_window, run_id = re.search(r"window (\S+): run ([0-9a-f-]{36}) succeeded", done.stdout).groups()
            first = next(r for r in runs_of(first_window) if r["runId"] == run_id)
            task_id = first["tags"]["dagster-celery/task_id"]
            assert any("Celery task has been forwarded to the broker" in m for m in messages(run_id))
            pid = run_worker_pid(run_id)
            ran_on = [name for name in workers if f"execute_job[{task_id}] received" in worker_log(name)]
            assert len(ran_on) == 1, {name: worker_log(name)[-2000:] for name in workers}
            assert f"execute_job[{task_id}] succeeded" in worker_log(ran_on[0])
            # The worker's log carries the run's own events, from the process that executed it.
            assert f" - {run_id} - {pid} - " in worker_log(ran_on[0])
            assert len(posts_of(first_window)) == 1, slack.posts
            print(f"run {run_id} of window {first_window} executed by {ran_on[0]}")

            # (b) A run held at the gate inside its first step; its worker is killed there.
            window = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).strftime("%Y-%m-%d-%H:%M")
            lock = engine.connect()
            lock.begin()
            lock.execute(sa.text(f"LOCK TABLE {GATE} IN ACCESS EXCLUSIVE MODE"))
            # The CLI follows the run it launched (and its retry), so it runs beside the test.
            held = subprocess.Popen(
                [str(BIN / "report-pipelines"), "run", SLUG, "--partition", window],
                env=env, stdout=(logs / "run-held.log").open("w"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            waiting = sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND wait_event = 'relation'"
            )
            wait_for(topology, lambda: gate.execute(waiting).scalar_one() == 1, "a run waiting at the gate", 120)
            held_run = runs_of(window)[0]
            assert held_run["status"] == "STARTED", held_run
            pid = run_worker_pid(held_run["runId"])
            victim = next(name for name, worker in workers.items() if pid in group_pids(worker, name))
            survivor = next(name for name in workers if name != victim)
            held_task = held_run["tags"]["dagster-celery/task_id"]
            assert f"execute_job[{held_task}] received" in worker_log(victim)
            # Celery's own record agrees: the task is STARTED by that worker, in that process.
            held_meta = task_meta(held_task)
            assert held_meta["status"] == "STARTED", held_meta
            assert held_meta["result"]["hostname"].split("@")[0] == victim and held_meta["result"]["pid"] == pid
            kill_group(workers[victim], victim)
            lock.rollback()
            lock.close()
            print(f"killed {victim} (run worker pid {pid}) in the middle of run {held_run['runId']}")

            # Run monitoring's next poll finds the worker does not answer a ping and fails the run
            # (long before max_runtime_seconds); run retries start it again on the survivor.
            limit = POLL_SECONDS + 120
            retry = wait_for(topology, lambda: next((r for r in runs_of(window) if r["status"] == "SUCCESS"
                             and r["tags"].get("dagster/parent_run_id") == held_run["runId"]), None),
                             "the retry of the killed worker's run", limit)  # fmt: skip
            failed = next(r for r in runs_of(window) if r["runId"] == held_run["runId"])
            assert failed["status"] == "FAILURE", failed
            assert any(f"Celery worker {held_meta['result']['hostname']}" in m and "does not answer a ping" in m
                       for m in messages(held_run["runId"])), messages(held_run["runId"])  # fmt: skip
            # Celery never learnt that the worker died: its task is still STARTED there.
            assert task_meta(held_task)["status"] == "STARTED"
            assert retry["tags"]["dagster/retry_number"] == "1"
            retry_task = retry["tags"]["dagster-celery/task_id"]
            assert retry_task != held_task
            assert f"execute_job[{retry_task}] succeeded" in worker_log(survivor), worker_log(survivor)[-3000:]
            print(f"run {retry['runId']} retried {held_run['runId']} on {survivor}")

            # Exactly once: one message in the channel for the window, one ledger row, posted by
            # the retry.
            assert len(posts_of(window)) == 1, slack.posts
            rows = ledger(window)
            assert len(rows) == 1 and rows[0]["status"] == "posted" and rows[0]["run_id"] == retry["runId"], rows
            assert rows[0]["ts"] == posts_of(window)[0]["ts"]
            # The CLI that launched the lost run followed it into its retry and reports the window.
            assert held.wait(timeout=60) == 0, (logs / "run-held.log").read_text()
            assert f"run {retry['runId']} succeeded" in (logs / "run-held.log").read_text()
            assert len(runs_of(window)) == 2
        except BaseException:
            print(topology.tails())
            raise
        finally:
            if held is not None and held.poll() is None:
                held.kill()
                held.wait()
            gate.close()
            for worker in workers.values():
                worker.stop()
            topology.stop()
            forget_celery_state(queue, engine)
            engine.dispose()
