"""The Dagster UI over many reports: the jobs page and the automation page, opened in Debian's
chromium driven by Playwright, against a webserver serving the code location.

Each side gets a temporary DAGSTER_HOME and ``dagster-webserver`` on a loopback port (no daemon:
10,000 running schedules ticking would load the machine the pages are timed on). Ours serves the
project's ``workspace.yaml`` over a report store of N reports; the baseline serves a bare Dagster
location with the same N partitioned 4-op jobs and schedules (``benchmarks.bare_location``).

A page is timed from the start of the navigation to the moment a job (or schedule) name of the
list is visible, in a fresh browser context each time (no cached bundle, no cached GraphQL
answers): what a person opening the page sees. One navigation per page warms the webserver first
and is not counted. Screenshots of the last render go to the git-ignored ``screenshots/`` folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import (
    PROJECT_ROOT, BenchmarkError, Outcome, Row, clean_environment, dagster_home, free_port, median,
    register_group, run_worker, stop_group,
)

NAME = "ui"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = PROJECT_ROOT / "screenshots"
PAGES = ("/jobs", "/automation")
# Names of the listed items on each side: a report's job and schedule, or a bare one.
ITEM_PATTERNS = {
    side: {"/jobs": rf"{job}\d{{5}}", "/automation": rf"{job}\d{{5}}_schedule"}
    for side, job in (("ours", "report_benchmark_report_"), ("bare", "bare_benchmark_report_"))
}
LOCATIONS = {"ours": "report_pipelines", "bare": "bare"}
# What each page shows when it has nothing to list.
EMPTY_STATES = {"/jobs": "No jobs", "/automation": "No automations"}
PAGE_TIMEOUT_SECONDS = 120
# Chromium runs as root here, so its sandbox cannot start; the rest keep it on the loopback
# webserver and off the GPU and /dev/shm (see report_pipelines_tests/test_browser.py).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--no-proxy-server", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip
WORKSPACE_QUERY = """
{ workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } }
  ... on PythonError { message } } }
"""
COUNT_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } schedules { name } } } } }
"""
BARE_WORKSPACE = """load_from:
  - python_module:
      module_name: benchmarks.bare_location
      location_name: bare
      working_directory: {root}
"""


class _Webserver:
    """``dagster-webserver`` on a loopback port, in its own session so it stops as a group."""

    def __init__(self, workspace: Path, home: Path, env: dict[str, str]):
        import requests

        self.session = requests.Session()
        # Loopback only: proxies from the environment must not see these requests.
        self.session.trust_env = False
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = home / "webserver.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dagster_webserver", "-w", str(workspace),
                 "-h", "127.0.0.1", "-p", self.url.rsplit(":", 1)[1]],
                cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        register_group(self.process.pid)

    def graphql(self, query: str, timeout: float = 120) -> dict:
        response = self.session.post(f"{self.url}/graphql", json={"query": query}, timeout=timeout)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

    def wait_for_location(self, name: str, timeout: float) -> float:
        """Seconds until the location has loaded; BenchmarkError if it failed or took too long."""
        import requests

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise BenchmarkError(f"dagster-webserver exited before loading {name}:\n{self.tail()}")
            try:
                answer = self.graphql(WORKSPACE_QUERY, timeout=30)["workspaceOrError"]
            except (requests.RequestException, RuntimeError, ValueError, KeyError):
                answer = {}
            for entry in answer.get("locationEntries") or []:
                if entry["name"] != name or entry["loadStatus"] != "LOADED":
                    continue
                loaded = entry["locationOrLoadError"] or {}
                if loaded.get("__typename") == "PythonError":
                    raise BenchmarkError(f"the code location {name} failed to load: {loaded.get('message')}")
                if loaded.get("__typename") == "RepositoryLocation":
                    return time.monotonic() - started
            time.sleep(1)
        raise BenchmarkError(f"the code location {name} did not load within {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.session.close()
        stop_group(self.process.pid, grace=20)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _time_page(browser, base: str, path: str, pattern: str, shot: Path) -> float:
    """Seconds from navigating to ``path`` in a fresh context to a visible list item."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        # Anything the page asks of another origin (docs, videos, analytics) is refused, so the
        # timing never waits on a network this machine may not have.
        context.route(lambda url: not url.startswith(base + "/"), lambda route: route.abort())
        # The "Join the Dagster community" dialog shows on localhost until this flag is set.
        context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_SECONDS * 1000)
        # A row's link is named with its icons too ("job report_x info"): match the word.
        item = page.get_by_role("link", name=re.compile(rf"(^|\s){pattern}(\s|$)")).first
        empty = page.get_by_text(EMPTY_STATES[path]).first
        try:
            began = time.perf_counter()
            page.goto(base + path, wait_until="commit")
            # The page's empty state ends the wait at once, instead of at the timeout.
            item.or_(empty).first.wait_for(state="visible")
            elapsed = time.perf_counter() - began
            if not item.is_visible():
                failure = shot.with_name(shot.stem + "_failure.png")
                page.screenshot(path=failure, full_page=True)
                raise BenchmarkError(
                    f"{path} says {EMPTY_STATES[path]!r}: the webserver serves no item matching {pattern}; "
                    f"see {failure}"
                )
            page.screenshot(path=shot)
        except PlaywrightError as err:
            failure = shot.with_name(shot.stem + "_failure.png")
            try:
                page.screenshot(path=failure, full_page=True)
            except PlaywrightError:
                pass
            first_line = str(err).splitlines()[0]
            raise BenchmarkError(
                f"{path}: no list item matching {pattern} ({first_line}); see {failure}"
            ) from None
        return elapsed
    finally:
        context.close()


def measure_pages(home: str, side: str, reports: int, repeats: int, load_timeout: float) -> dict:
    """Serve N reports' (or N bare) jobs and schedules and time each page ``repeats`` times."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise BenchmarkError("playwright is not installed: pip install -e '.[dev]'") from err
    from benchmarks.fixtures import bare_shapes, fill_store, use_home
    from benchmarks.bare_location import SHAPES_ENV

    folder = use_home(home)
    env = dict(os.environ)
    began = time.perf_counter()
    if side == "ours":
        from report_pipelines.store import ReportStore

        fill_store(ReportStore(), reports)
        workspace = folder / "workspace.yaml"
    else:
        import json

        shapes = folder / "shapes.json"
        shapes.write_text(json.dumps(bare_shapes(reports)))
        env[SHAPES_ENV] = str(shapes)
        workspace = folder / "workspace_bare.yaml"
        workspace.write_text(BARE_WORKSPACE.format(root=PROJECT_ROOT))
    fill_seconds = time.perf_counter() - began
    SCREENSHOTS.mkdir(exist_ok=True)
    # Only this run's pictures: a failure picture left by an earlier run would mislead.
    for old in SCREENSHOTS.glob(f"ui_{side}_*.png"):
        old.unlink()
    server = _Webserver(workspace, folder, env)
    timings: dict[str, list[float]] = {path: [] for path in PAGES}
    warmup: dict[str, float] = {}
    errors: dict[str, str] = {}

    def page_args(path: str) -> tuple[str, Path]:
        return ITEM_PATTERNS[side][path], SCREENSHOTS / f"ui_{side}_{path.strip('/')}.png"

    try:
        load_seconds = server.wait_for_location(LOCATIONS[side], load_timeout)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                for path in PAGES:
                    try:
                        warmup[path] = _time_page(browser, server.url, path, *page_args(path))
                    except BenchmarkError as err:
                        # One page failing leaves the other page's figure, and the baseline's.
                        errors[path] = str(err)
                # Pages alternate, so a slow moment on the machine does not hit one page only.
                for _ in range(repeats):
                    for path in warmup:
                        timings[path].append(_time_page(browser, server.url, path, *page_args(path)))
            finally:
                browser.close()
        nodes = server.graphql(COUNT_QUERY, timeout=300)["repositoriesOrError"]["nodes"]
    finally:
        server.stop()
    return {
        "side": side, "reports": reports, "fill_seconds": fill_seconds, "location_load_seconds": load_seconds,
        "jobs": sum(len(node["jobs"]) for node in nodes),
        "schedules": sum(len(node["schedules"]) for node in nodes),
        "warmup_seconds": warmup, "seconds": timings, "errors": errors,
    }


def run(quick: bool) -> Outcome:
    if not os.access(CHROMIUM, os.X_OK):
        raise BenchmarkError(f"chromium is not installed at {CHROMIUM} (bash .ci/chromium.sh installs it)")
    reports = 1000 if quick else 10_000
    repeats = 3 if quick else 5
    load_timeout = 300.0 if quick else 900.0
    outcome = Outcome(NAME)
    results: dict[str, dict] = {}
    for side in ("ours", "bare"):
        with dagster_home(f"{NAME}_{side}") as home:
            env = clean_environment(DAGSTER_HOME=str(home))
            results[side] = run_worker(
                "benchmarks.ui_pages:measure_pages",
                {"home": str(home), "side": side, "reports": reports, "repeats": repeats,
                 "load_timeout": load_timeout},
                env=env, timeout=load_timeout + 2 * (repeats + 1) * PAGE_TIMEOUT_SECONDS + 300,
            )  # fmt: skip
    outcome.details = results
    ours, bare = results["ours"], results["bare"]
    errors = []
    for path in PAGES:
        what = "job" if path == "/jobs" else "schedule"
        mine = median(ours["seconds"][path]) if ours["seconds"][path] else None
        theirs = median(bare["seconds"][path]) if bare["seconds"][path] else None
        failed = [
            f"{side}: {result['errors'][path]}" for side, result in results.items() if path in result["errors"]
        ]
        errors.extend(failed)
        note = (f"chromium headless, fresh context; median of {repeats} after a warm-up; a {what} name "
                f"visible; baseline: bare Dagster with the same jobs and schedules")
        outcome.rows.append(Row(
            benchmark="UI page to a rendered list", case=f"{path}, N={reports:,}", ours=mine, baseline=theirs,
            ratio=mine / theirs if mine and theirs else None, unit="s", goal="info",
            note="; ".join(failed) if failed else note,
        ))
    outcome.rows.append(Row(
        benchmark="UI page to a rendered list", case=f"webserver: location loaded, N={reports:,}",
        ours=ours["location_load_seconds"], baseline=bare["location_load_seconds"],
        ratio=ours["location_load_seconds"] / bare["location_load_seconds"], unit="s", goal="info",
        note=(f"from starting dagster-webserver; {ours['jobs']:,} jobs and {ours['schedules']:,} schedules "
              f"(bare {bare['jobs']:,} and {bare['schedules']:,})"),
    ))
    if errors:
        outcome.error = "; ".join(errors)
    return outcome
