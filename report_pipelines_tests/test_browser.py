"""The Dagster UI in a real browser: Debian's chromium, driven by Playwright, against the demo.

Playwright's own browser builds are downloaded from outside the package registries, so the test
launches the system chromium (`.ci/chromium.sh` installs it with apt) and skips, saying so, only
where that chromium or the playwright package is missing. Screenshots go to the git-ignored
`screenshots/` folder at the repository root so a person can see what the test saw.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from report_pipelines_tests.dagster_dev import free_port, stop_process_group

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed (pip install -e '.[dev]')",
)

# CHROMIUM_PATH lets a developer point at another Chromium build, e.g. outside Debian.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CLI = str(Path(sys.executable).parent / "report-pipelines")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
SHOTS = ("jobs.png", "schedule_stopped.png", "schedule_running.png", "failure.png")

LOCATION = "report_pipelines"
REPORT_JOBS = (
    "report_daily_sales_report",
    "report_weekly_regional_revenue",
    "report_monthly_product_performance",
)
SCHEDULE = "report_daily_sales_report_schedule"

# Startup covers building the demo warehouse and running one report before `dagster dev` serves.
STARTUP_TIMEOUT_S = 180
# The UI renders after several GraphQL round trips; on a busy 2-core machine that takes seconds.
UI_TIMEOUT_MS = 30_000
STATE_TIMEOUT_S = 30

# Chromium runs as root here, so its sandbox cannot start. The rest keep the browser from reaching
# anything but the loopback webserver (updates, sync, field trials, proxies from the environment)
# and from depending on a GPU or on /dev/shm, which containers often keep at 64 MB.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

JOBS_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } jobs { name } } } } }
"""
SCHEDULE_STATE_QUERY = """
query ($name: String!) {
  scheduleOrError(scheduleSelector: {
    repositoryLocationName: "report_pipelines", repositoryName: "__repository__", scheduleName: $name
  }) {
    __typename
    ... on Schedule { scheduleState { status } }
    ... on PythonError { message }
    ... on ScheduleNotFoundError { message }
  }
}
"""


class GraphQLError(Exception):
    pass


def graphql(session: requests.Session, base: str, query: str, **variables) -> dict:
    response = session.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=10)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise GraphQLError(body["errors"])
    return body["data"]


def schedule_status(session: requests.Session, base: str) -> str:
    answer = graphql(session, base, SCHEDULE_STATE_QUERY, name=SCHEDULE)["scheduleOrError"]
    assert answer["__typename"] == "Schedule", answer
    return answer["scheduleState"]["status"]


def wait_for_schedule_status(session: requests.Session, base: str, expected: str) -> None:
    # The UI mutation and its refetch are asynchronous: poll rather than read once.
    deadline = time.monotonic() + STATE_TIMEOUT_S
    status = schedule_status(session, base)
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        status = schedule_status(session, base)
    assert status == expected, f"{SCHEDULE} is {status} through GraphQL, expected {expected}"


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    # Loopback only: proxies from the environment must not see these requests.
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def demo_ui(tmp_path: Path, http: requests.Session) -> Iterator[str]:
    """`report-pipelines demo` serving the UI on a free loopback port; yields its base URL once the
    code location has loaded its report jobs."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REPORT_STORE_URL", "WAREHOUSE_URL")}
    # The demo sends its run links and reload requests to the webserver it starts.
    env["DAGSTER_WEBSERVER_URL"] = base
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        # A new session so SIGINT reaches the whole tree: dagster dev, webserver, daemon, code server.
        process = subprocess.Popen(
            [CLI, "demo", "--port", str(port)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            loaded: set[str] = set()
            while time.monotonic() < deadline:
                assert process.poll() is None, f"the demo exited early:\n{log_tail(log_path)}"
                try:
                    # /server_info answers as soon as the webserver is up; the jobs only once the
                    # code location has loaded, which is what the UI needs to list them.
                    if http.get(f"{base}/server_info", timeout=5).ok:
                        nodes = graphql(http, base, JOBS_QUERY)["repositoriesOrError"].get("nodes") or []
                        loaded = {
                            job["name"]
                            for node in nodes if node["location"]["name"] == LOCATION
                            for job in node["jobs"]
                        }
                        if set(REPORT_JOBS) <= loaded:
                            break
                except (requests.RequestException, GraphQLError, ValueError, KeyError, TypeError):
                    # Not up yet, or the location is still loading: ask again until the deadline.
                    pass
                time.sleep(1)
            else:
                pytest.fail(f"the demo UI did not load {REPORT_JOBS} within {STARTUP_TIMEOUT_S} s "
                            f"(loaded: {sorted(loaded)}):\n{log_tail(log_path)}")
            yield base
        finally:
            stop_process_group(process)


@pytest.mark.integration
@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"chromium is not installed at {CHROMIUM} (bash .ci/chromium.sh installs Debian's package)",
)
def test_ui_lists_report_jobs_and_toggles_a_schedule(demo_ui: str, http: requests.Session):
    expect = sync_api.expect
    base = demo_ui
    SCREENSHOTS.mkdir(exist_ok=True)
    # Only this run's pictures should be there: a failure.png left by an earlier run would mislead.
    for name in SHOTS:
        (SCREENSHOTS / name).unlink(missing_ok=True)
    assert schedule_status(http, base) == "RUNNING", "the demo should start with its schedules running"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            # Anything the page asks of another origin (docs links, videos, analytics) is refused, so
            # the test never leaves this machine and never waits on a network it does not have.
            context.route(lambda url: not url.startswith(base + "/"), lambda route: route.abort())
            # On localhost the UI opens a "Join the Dagster community" dialog over every page until it
            # is dismissed; this is the flag its Skip button stores, set before any page script runs.
            context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            # Should a later Dagster store the dismissal elsewhere, dismiss the dialog as a person would.
            page.add_locator_handler(
                page.get_by_text("Join the Dagster community"),
                lambda: page.get_by_role("button", name="Skip", exact=True).click(),
            )
            try:
                page.goto(base)
                page.get_by_role("navigation").get_by_role("link", name="Jobs").click()
                page.wait_for_url(re.compile(r"/jobs$"))
                for job in REPORT_JOBS:
                    # A row's link is named with its icons too ("job report_x info"): match the word.
                    link = page.get_by_role("link", name=re.compile(rf"(^|\s){re.escape(job)}(\s|$)"))
                    expect(link).to_be_visible(timeout=UI_TIMEOUT_MS)
                page.screenshot(path=SCREENSHOTS / "jobs.png", full_page=True)

                page.get_by_role("navigation").get_by_role("link", name="Automation").click()
                page.get_by_role("link", name=SCHEDULE).click()
                page.wait_for_url(re.compile(f"/locations/{LOCATION}/schedules/{SCHEDULE}$"))
                # The schedule's details table holds one control: its running switch. The switch is
                # a hidden checkbox inside a label drawn as a toggle, so the label is what is clicked
                # (a `has` locator is resolved inside each label, hence it starts from the page).
                details = page.get_by_role("table")
                switch = details.get_by_role("checkbox")
                toggle = details.locator("label").filter(has=page.get_by_role("checkbox"))
                next_tick = details.get_by_role("row", name=re.compile(r"^Next tick"))
                expect(switch).to_be_checked(timeout=UI_TIMEOUT_MS)

                toggle.click()
                expect(switch).not_to_be_checked(timeout=UI_TIMEOUT_MS)
                wait_for_schedule_status(http, base, "STOPPED")
                # A stopped schedule has no next tick: the page re-read the state from the server.
                expect(next_tick).to_be_hidden(timeout=UI_TIMEOUT_MS)
                page.screenshot(path=SCREENSHOTS / "schedule_stopped.png", full_page=True)

                toggle.click()
                expect(switch).to_be_checked(timeout=UI_TIMEOUT_MS)
                wait_for_schedule_status(http, base, "RUNNING")
                expect(next_tick).to_be_visible(timeout=UI_TIMEOUT_MS)
                page.screenshot(path=SCREENSHOTS / "schedule_running.png", full_page=True)
            except Exception:
                # What the page showed when it went wrong says more than the assertion alone; a page
                # too broken to photograph must not hide the original error.
                try:
                    page.screenshot(path=SCREENSHOTS / "failure.png", full_page=True)
                except sync_api.Error:
                    pass
                raise
        finally:
            browser.close()
