"""The production setup: Dagster storage and the report store on this machine's PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from report_pipelines.definitions import build_repository
from report_pipelines.report_files import load_report_text
from report_pipelines.store import Database, DeliveryKey, DeliveryLedger, ReportStore, WorkspaceStore
from report_pipelines.slack.delivery import clear_channel_cache
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
ROOT = Path(__file__).parents[1]


@contextmanager
def fresh_postgres_database():
    """A new database on this machine's PostgreSQL, its URL yielded, dropped afterwards."""
    admin = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except sa.exc.OperationalError as err:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({err.orig}); these tests need it")
    name = f"rp_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield f"{SERVER}/{name}"
    finally:
        Database.close(f"{SERVER}/{name}")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def database():
    """A fresh database per test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url.rsplit("/", 1)[1]


def test_report_on_postgres_instance_and_store(home, database, secret_key, monkeypatch):
    url = f"{SERVER}/{database}"
    monkeypatch.setenv("REPORT_STORE_URL", url)
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    store = ReportStore()
    assert store.engine.dialect.name == "postgresql"
    store.add(load_report_text((REPORTS / "valid.yaml").read_text()))
    token = "xoxb-6666-pg-token"
    clear_channel_cache()
    with FakeSlack(tokens={token: "T0001"}) as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        WorkspaceStore().add("T0001", "Acme", token)
        instance = dg.DagsterInstance.from_config(str(home))
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        job = build_repository(store.job_shaping_rows()).get_job("report_regional_revenue")
        for _ in range(2):
            result = job.execute_in_process(instance=instance, partition_key="2026-11-25-09:00")
            assert result.success
        assert len(slack.posts) == 1
        records = instance.get_run_records(dg.RunsFilter(job_name="report_regional_revenue"))
        assert len(records) == 2
        report = store.get("regional_revenue")
        entry = DeliveryLedger().get(DeliveryKey(report.id, "2026-11-25-09:00", "T0001/channel/C0SALES"))
        assert entry.status == "posted" and entry.ts == slack.posts[0]["ts"]
        with store.engine.connect() as conn:
            raw = conn.execute(sa.text("SELECT bot_token_encrypted FROM slack_workspaces")).scalar_one()
        assert token not in raw
        instance.dispose()


def test_store_refuses_duplicates_on_postgres_and_stays_unchanged(home, database, monkeypatch):
    from report_pipelines.models import ReportValidationError

    monkeypatch.setenv("REPORT_STORE_URL", f"{SERVER}/{database}")
    store = ReportStore()
    spec = load_report_text((REPORTS / "valid.yaml").read_text())
    store.add(spec)
    with pytest.raises(ReportValidationError, match="already used"):
        store.add(spec)
    assert [r.slug for r in store.list()] == ["regional_revenue"]


def test_api_refuses_what_postgres_cannot_store(home, database, secret_key, monkeypatch):
    """Column lengths and NUL characters are checked by the models, so PostgreSQL (which enforces
    them, unlike SQLite) never turns bad input into a server error."""
    import secrets

    from fastapi.testclient import TestClient

    from report_pipelines.api.app import create_app
    from report_pipelines.api.auth import mint_token

    monkeypatch.setenv("REPORT_STORE_URL", f"{SERVER}/{database}")
    secret = secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {mint_token('alice', secret=secret)}"}
    report = load_report_text((REPORTS / "valid.yaml").read_text()).model_dump(mode="json", exclude={"user_id"})
    with TestClient(create_app(secret)) as client:
        fits = {**report, "slack_config": {"notification_type": "channel", "slack_channel": "#" + "c" * 199}}
        assert client.post("/api/scheduling/reports", json=fits, headers=headers).status_code == 201
        for field, value in (("slack_channel", "#" + "c" * 200), ("team_id", "T" * 33), ("slack_channel", "#a\x00b")):
            body = {**report, "name": "Other", "slack_config": {"notification_type": "channel", "slack_channel": "#x", field: value}}
            response = client.post("/api/scheduling/reports", json=body, headers=headers)
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body", "slack_config", field]
        too_long_team = {"team_id": "T" * 33, "team_name": "Acme", "bot_token": "xoxb-1-pg"}
        admin = {"Authorization": f"Bearer {mint_token('root', secret=secret, role='admin')}"}
        assert client.post("/api/scheduling/slack/workspace", json=too_long_team, headers=admin).status_code == 422
        assert [r["slug"] for r in client.get("/api/scheduling/reports", headers=headers).json()] == ["regional_revenue"]
