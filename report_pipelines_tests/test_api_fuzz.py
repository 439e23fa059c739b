"""Schemathesis against the API's own OpenAPI schema: no generated request gets a server error,
and every answer matches the documented status codes, content types and response schemas."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from report_pipelines.api.app import create_app
from report_pipelines.api.auth import mint_token
from report_pipelines.report_files import load_report_text
from report_pipelines.store import ReportStore, WorkspaceStore
from report_pipelines_tests.conftest import REPORTS
from report_pipelines_tests.fakes.slack_api import FakeSlack
from report_pipelines_tests.test_postgres import fresh_postgres_database

SECRET = secrets.token_urlsafe(32)
USER = "alice"
# The app reads DAGSTER_HOME, the store and Slack per request, so it can be built at import for
# schemathesis to read its schema; the fixture below points it at a scratch home.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SECRET))


@pytest.fixture(scope="module", autouse=True, params=["sqlite", "postgresql"])
def api_home(request, tmp_path_factory, demo_warehouse_file):
    """The zero-setup SQLite store, then the production PostgreSQL one (which, unlike SQLite,
    enforces column lengths and refuses NUL characters)."""
    home = tmp_path_factory.mktemp("api_fuzz")
    shutil.copy(Path(__file__).parents[1] / "report_pipelines" / "instance" / "dagster.yaml", home)
    shutil.copy(demo_warehouse_file, home / "demo_warehouse.duckdb")
    with pytest.MonkeyPatch.context() as env, FakeSlack(tokens={"xoxb-fuzz-token": "T0001"}) as slack:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("REPORT_PIPELINES_SECRET_KEY", Fernet.generate_key().decode())
        env.setenv("SLACK_API_URL", slack.url)
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:9")
        for name in ("REPORT_STORE_URL", "WAREHOUSE_URL", "GOOGLE_API_KEY"):
            env.delenv(name, raising=False)
        if request.param == "postgresql":
            env.setenv("REPORT_STORE_URL", request.getfixturevalue("module_database"))
        store = ReportStore()
        # Something to find: one report of the user's (id 1, slug regional_revenue) and a workspace.
        spec = load_report_text((REPORTS / "valid.yaml").read_text())
        store.add(spec)
        WorkspaceStore().add("T0001", "Acme", "xoxb-fuzz-token")
        yield home


@pytest.fixture(scope="module")
def module_database():
    with fresh_postgres_database() as url:
        yield url


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {mint_token(USER, secret=SECRET)}"},
        # The models check more than a JSON schema can say (IANA timezones, cron, SQL versus a
        # prompt, xoxb- tokens), so schema-valid data may still get a 422; and unknown query
        # parameters are ignored, as most HTTP APIs do.
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
    )
