"""Secrets stay secret, data cannot ping a channel, and window values are bound, not formatted."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

from report_pipelines.definitions import build_repository
from report_pipelines.models import ReportSpec, ReportWindow
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines.sensors import report_failure_notifier
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines.warehouses.bigquery import BigQueryWarehouse
from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.gemini_api import FakeGemini, analysis_reply, error_reply
from report_pipelines_tests.fakes.slack_api import FakeSlack

CLI = str(Path(sys.executable).parent / "report-pipelines")
KEY = "2026-11-25-09:00"
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def spec(**changes) -> ReportSpec:
    report = load_report_text((REPORTS / "valid.yaml").read_text())
    return ReportSpec.model_validate({**report.model_dump(), **changes})


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=240, env={**os.environ, **env}
    )


def files_holding(root: Path, needles: dict[str, str]) -> list[str]:
    """``name: path`` for every file under ``root`` whose bytes contain a needle."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{name}: {path}" for name, needle in needles.items() if needle.encode() in data]
    return found


# --- Secrets -----------------------------------------------------------------------------------


def test_bot_token_and_gemini_key_leave_no_trace(home, secret_key, instance):
    marker = uuid.uuid4().hex
    token = f"xoxb-1234-{marker}"
    gemini_key = f"AIzaSy-{uuid.uuid4().hex}"
    secrets = {
        "bot token": marker,  # the unique part: any copy of the token contains it
        "gemini key": gemini_key.removeprefix("AIzaSy-"),
        "fernet key": secret_key,
    }
    ReportStore().add(spec())
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack, FakeGemini(api_key=gemini_key) as gemini:
        env = {
            "SLACK_API_URL": slack.url,
            "GOOGLE_API_KEY": gemini_key,
            "GOOGLE_GEMINI_BASE_URL": gemini.url,
        }
        outputs = []

        def run(*args, expect: int, **extra_env) -> subprocess.CompletedProcess:
            done = cli(*args, env={**env, **extra_env})
            outputs.append(done.stdout + done.stderr)
            assert done.returncode == expect, done.stderr[-2000:]
            return done

        run("workspaces", "add", "--team-id", "T0001", "--team-name", "Acme", expect=0,
            SLACK_BOT_TOKEN=token)
        gemini.reply(analysis_reply(summary="Revenue held steady."))
        ok = run("run", "regional_revenue", "--partition", KEY, expect=0)
        assert "posted to #sales" in ok.stdout
        # The Slack error path, with Gemini failing too.
        slack.fail_next("chat.postMessage", error="invalid_auth", status=200)
        gemini.reply(error_reply(400, f"API key not valid: {gemini_key}"))
        failed = run("run", "regional_revenue", "--partition", "2026-11-24-09:00", expect=1)
        assert "invalid or revoked (invalid_auth)" in failed.stderr
        run("workspaces", "list", expect=0)
        run("workspaces", "list", "--json", expect=0)
        health = run("health", "--json", expect=1)  # unhealthy: no daemon runs here
        assert json.loads(health.stdout)["checks"]

        # The owner "alice" is no Slack ID: the failure notice lands in previews/_notices.
        (failed_run,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        event = next(iter(instance.all_logs(failed_run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)))
        report_failure_notifier(
            dg.build_run_status_sensor_context(
                sensor_name="report_failure_notifier", dagster_event=event.dagster_event,
                dagster_instance=instance, dagster_run=failed_run,
            ).for_run_failure()
        )

    # The secrets were really used: Slack got the token, Gemini the key, the notice was written.
    assert len(slack.posts) == 1 and "Revenue held steady." in json.dumps(slack.posts[0]["blocks"])
    assert len(gemini.requests) == 3  # the good run, the failing run, health's check
    assert list((home / "previews" / "_notices").rglob("*.json"))
    # Gemini echoed the key in its error; the note kept in the run's event log has it redacted.
    notes = [
        record.dagster_event.step_output_data.metadata["notes"].value
        for record in instance.all_logs(failed_run.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT)
        if record.dagster_event.step_key == "analyze_results"
    ]
    assert notes and "API key not valid: [redacted]" in notes[0]
    # The scan below reads what it should: the event logs, run storage and the store.
    assert files_holding(home / "history", {"slug": "regional_revenue"})
    assert files_holding(home, {"team": "T0001"})

    leaks = [f"{name} in CLI output {i}" for i, out in enumerate(outputs)
             for name, needle in secrets.items() if needle in out]
    leaks += files_holding(home, secrets)
    assert leaks == []


# --- Escaping ----------------------------------------------------------------------------------


HOSTILE = ["<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>"]


@pytest.fixture
def hostile_warehouse(home, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "hostile.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE events (day DATE, who VARCHAR, note VARCHAR, amount INTEGER)")
        rows = [
            ("2026-11-25", "<!channel>", "<https://evil.example|click>", 5),
            ("2026-11-25", "<!here>", "hi <@U123>", 7),
            ("2026-11-25", "<!channel>", "<!subteam^S1|@team> & <#C0SALES>", 3),
        ]
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{path}")
    return path


@pytest.fixture
def hostile_services(home, secret_key, monkeypatch, instance):
    token = "xoxb-4242-escape-token"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack, FakeGemini() as gemini:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("GOOGLE_API_KEY", gemini.api_key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        WorkspaceStore().add("T0001", "Acme", token)
        yield slack, gemini


def texts(value) -> list[str]:
    """Every string a Slack client renders from a payload: ``text`` values, at any depth."""
    if isinstance(value, dict):
        return [t for key, item in value.items()
                for t in ([item] if key == "text" and isinstance(item, str) else texts(item))]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    return []


def unescaped(text: str, run_link: str | None = None) -> list[str]:
    """Slack control sequences (<...>) left in ``text``, the product's own run link excepted."""
    if run_link:
        text = text.replace(run_link, "")
    return re.findall(r"<[^>]*>?", text)


def run_report(instance, slug: str, key: str = KEY):
    job = build_repository(ReportStore().job_shaping_rows()).get_job(f"report_{slug}")
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)


def test_data_and_ai_text_reach_slack_escaped(hostile_warehouse, hostile_services, instance):
    slack, gemini = hostile_services
    ReportStore().add(spec(
        name="Hostile Data",
        query='SELECT who, note, amount AS "<@U999> amount" FROM events '
              "WHERE day >= @window_start_date AND day < @window_end_date",
        schedule={"frequency": "daily", "time": "09:00", "timezone": "UTC", "start_date": "2026-11-01"},
        attachments={"csv": True},
    ))
    # Escaping lengthens these past a bullet's room: they are cut there and follow in full in
    # the thread, so the thread replies are checked too.
    long_insights = [f"{i}: " + "<!channel> <@U123> <https://evil.example|x> " * 13 for i in range(4)]
    gemini.reply(analysis_reply(
        summary="<!channel> revenue fell; see <https://evil.example|click> and ask <@U123>",
        insights=["<!here> the West stalled", *long_insights],
        recommendations=["Ping <!everyone> and <@U123>", "Read <https://evil.example|this>"],
    ))
    result = run_report(instance, "hostile_data")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    main, *replies = slack.posts
    assert replies and all(r["thread_ts"] == main["ts"] for r in replies)  # overflow went to the thread
    run_link = f"<http://127.0.0.1:3000/runs/{result.run_id}|View run in Dagster>"
    payload = texts(main["blocks"])
    # The footer carries the link; the buttons under it follow.
    assert main["blocks"][-1]["type"] == "actions" and run_link in texts(main["blocks"][-2])[-1]
    found = [(post["ts"], text, bad) for post in slack.posts
             for text in [post["text"], *texts(post["blocks"])]
             for bad in unescaped(text, run_link)]
    assert found == []
    everything = json.dumps([p["blocks"] for p in slack.posts], ensure_ascii=False)
    # The hostile values did reach Slack, as visible text.
    for value in HOSTILE + ["&lt;!everyone&gt;", "&lt;@U999&gt; amount"]:
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
            if value.startswith("<") else value
        assert escaped in everything, value
    for file in slack.files:  # titles and comments are shown by Slack too
        assert unescaped(file.get("initial_comment") or "") == []


def test_failure_notice_escapes_data_quoted_in_the_error(hostile_warehouse, hostile_services, instance):
    slack, _ = hostile_services
    ReportStore().add(spec(
        name="Hostile Cast",
        query="SELECT CAST(who AS INTEGER) AS n FROM events "
              "WHERE day >= @window_start_date AND day < @window_end_date",
        schedule={"frequency": "daily", "time": "09:00", "timezone": "UTC", "start_date": "2026-11-01"},
        user_id="U0ALICE",
    ))
    result = run_report(instance, "hostile_cast")
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    report_failure_notifier(dg.build_run_status_sensor_context(
        sensor_name="report_failure_notifier", dagster_event=event,
        dagster_instance=instance, dagster_run=run,
    ).for_run_failure())
    (notice,) = slack.posts
    assert "&lt;!channel&gt;" in json.dumps(notice["blocks"])  # the error made it into the notice
    run_link = f"<http://127.0.0.1:3000/runs/{result.run_id}|View run {result.run_id[:8]} in Dagster>"
    found = [bad for text in [notice["text"], *texts(notice["blocks"])]
             for bad in unescaped(text, run_link)]
    assert found == []


# --- Bound window parameters -------------------------------------------------------------------


WINDOW = ReportWindow(
    partition_key=KEY,
    start=dt.datetime(2026, 11, 25, 9, tzinfo=dt.timezone.utc),
    end=dt.datetime(2026, 11, 26, 9, tzinfo=dt.timezone.utc),
    timezone="UTC",
)
WINDOW_SQL = (
    "SELECT @window_start_date AS start_day, @window_end_date AS end_day, "
    "@window_start AS start_at, @window_end AS end_at, '@window_start' AS literal"
)


@pytest.fixture
def sent_statements(monkeypatch):
    """(statement, parameters) of every statement the warehouse engines send to the database."""
    sent: list[tuple[str, object]] = []
    real = sa.create_engine

    def create_engine(url, *args, **kwargs):
        engine = real(url, *args, **kwargs)

        @sa.event.listens_for(engine, "before_cursor_execute")
        def record(conn, cursor, statement, parameters, context, executemany):
            sent.append((statement, parameters))

        return engine

    monkeypatch.setattr(sa, "create_engine", create_engine)
    return sent


def assert_bound(statement: str, parameters, expected: dict) -> None:
    for spelled in ("2026-11-25", "2026-11-26", "20261125", "09:00:00"):
        assert spelled not in statement, statement
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
    for value in expected.values():
        assert value in values, (value, values)


@pytest.mark.parametrize("backend", ["duckdb", "sqlite", "postgresql"])
def test_window_values_are_bound_never_formatted(home, tmp_path, sent_statements, backend):
    if backend == "duckdb":
        url = f"duckdb:///{tmp_path / 'w.duckdb'}"
        duckdb.connect(str(tmp_path / "w.duckdb")).close()
    elif backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    else:
        engine = sa.create_engine(POSTGRES)
        try:
            engine.connect().close()
        except sa.exc.OperationalError as err:
            pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({err.orig})")
        finally:
            engine.dispose()
        url = POSTGRES
    sent_statements.clear()
    result = SQLAlchemyWarehouse(url=url).run_query(WINDOW_SQL, WINDOW)
    statement, parameters = next(
        (s, p) for s, p in sent_statements if "start_day" in s
    )
    assert_bound(statement, parameters, WINDOW.query_parameters())
    assert "'@window_start'" in statement  # a marker inside a literal is left alone
    row = result.frame.iloc[0]
    assert str(row["start_day"])[:10] == "2026-11-25" and str(row["end_day"])[:10] == "2026-11-26"
    assert row["literal"] == "@window_start"


def test_report_run_binds_its_window(demo_store, sent_statements, instance):
    # The demo's daily report, run through its job: the ops hand the window to the warehouse.
    sent_statements.clear()
    job = build_repository(demo_store.job_shaping_rows()).get_job("report_daily_sales_report")
    assert job.execute_in_process(instance=instance, partition_key=KEY).success
    queries = [(s, p) for s, p in sent_statements if "FROM sales" in s or "from sales" in s]
    assert queries, sent_statements
    for statement, parameters in queries:
        values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
        assert dt.date(2026, 11, 25) in values and dt.date(2026, 11, 26) in values
        assert "2026-11-2" not in statement


def test_bigquery_sends_the_sql_as_written_with_typed_parameters(monkeypatch):
    from google.cloud import bigquery

    sent = []

    class Rows(list):
        schema = [SimpleNamespace(name="start_day")]

    def query(self, sql, job_config=None, **kwargs):
        sent.append((sql, job_config))
        if job_config.dry_run:
            return SimpleNamespace(total_bytes_processed=10, statement_type="SELECT")
        return SimpleNamespace(
            result=lambda **kw: Rows([SimpleNamespace(values=lambda: (dt.date(2026, 11, 25),))]),
            total_bytes_processed=10, total_bytes_billed=10, cache_hit=False, job_id="job-1",
            location="US",
        )

    monkeypatch.setattr(bigquery.Client, "query", query)
    warehouse = BigQueryWarehouse(project="test-project", api_endpoint="http://127.0.0.1:9")
    sql = "SELECT @window_start_date AS start_day WHERE @window_end > @window_start"
    warehouse.run_query(sql, WINDOW)
    assert [bool(config.dry_run) for _, config in sent] == [True, False]
    for statement, config in sent:
        assert statement == sql
        parameters = {p.name: (p.type_, p.value) for p in config.query_parameters}
        assert parameters == {
            "window_start_date": ("DATE", dt.date(2026, 11, 25)),
            "window_end": ("TIMESTAMP", WINDOW.end),
            "window_start": ("TIMESTAMP", WINDOW.start),
        }
