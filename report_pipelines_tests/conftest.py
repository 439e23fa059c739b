from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from report_pipelines.demo.data import build_demo_warehouse

REPORTS = Path(__file__).parent / "reports"


@pytest.fixture(scope="session")
def demo_warehouse_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "demo_warehouse.duckdb"
    build_demo_warehouse(path)
    return path


@pytest.fixture
def home(tmp_path, monkeypatch, demo_warehouse_file) -> Path:
    """A fresh DAGSTER_HOME with the demo warehouse in it and no outside configuration."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).parents[1] / "report_pipelines" / "instance" / "dagster.yaml", home)
    shutil.copy(demo_warehouse_file, home / "demo_warehouse.duckdb")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name in (
        "REPORT_STORE_URL", "WAREHOUSE_URL", "SLACK_API_URL", "GOOGLE_API_KEY", "SLACK_BOT_TOKEN",
        "REPORT_PIPELINES_SECRET_KEY", "REPORT_PIPELINES_RESULTS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    # A generated results key goes outside DAGSTER_HOME: here, a folder of this test's own.
    monkeypatch.setenv("REPORT_PIPELINES_KEY_DIR", str(tmp_path / "keys"))
    # slack_sdk honours HTTP(S)_PROXY; local fakes must be reached directly.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return home


@pytest.fixture
def secret_key(monkeypatch) -> str:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", key)
    return key


@pytest.fixture
def demo_store(home):
    """The report store in ``home`` holding the three demo reports."""
    from importlib import resources

    from report_pipelines.cli.serve import DEMO_REPORTS
    from report_pipelines.report_files import load_report_text
    from report_pipelines.store import ReportStore

    store = ReportStore()
    store.create_tables()
    for name in DEMO_REPORTS:
        text = (resources.files("report_pipelines") / "demo" / "reports" / name).read_text()
        store.add(load_report_text(text))
    return store


@pytest.fixture
def instance(home):
    """A real Dagster instance whose DAGSTER_HOME is ``home`` (instance_for_test sets the env var,
    and the report store, demo warehouse and previews default to files in DAGSTER_HOME)."""
    import dagster as dg

    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance
