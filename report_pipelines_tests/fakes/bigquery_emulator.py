"""A local BigQuery (``bqemulator``) for tests that drive the real google-cloud-bigquery client.

The emulator lives in a virtualenv of its own, because it needs duckdb 1.5.x and the project runs
duckdb 2.x. ``.ci/bqemulator.sh`` creates that virtualenv; this module runs the script when
needed, starts the emulator on free ports and stops it again::

    with running_emulator() as url:
        client = bigquery.Client(
            project=EMULATOR_PROJECT,
            client_options=ClientOptions(api_endpoint=url),
            credentials=AnonymousCredentials(),
        )

What the emulator does not do (so tests must not rely on it): load jobs (it refuses the ``*/*``
content type the client sends; seed with ``insert_rows_json`` or queries), ``maximum_bytes_billed``
(never enforced) and byte estimates (dry runs report 0 bytes). Its named-parameter binding also
rewrites ``@name`` inside string literals when a parameter of that name is bound.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EMULATOR_PROJECT = "test-project"
SETUP_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "bqemulator.sh"
DEFAULT_VENV = Path.home() / ".cache" / "report_pipelines" / "bqemulator-venv"
STARTUP_TIMEOUT_SECONDS = 60.0
# Creating the virtualenv downloads ~150 MB of wheels; a first run took ~45 s here.
SETUP_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 10.0


class EmulatorUnavailable(RuntimeError):
    """The emulator's virtualenv could not be prepared (typically: PyPI cannot be reached)."""


def emulator_venv() -> Path:
    return Path(os.environ.get("BQEMULATOR_VENV") or DEFAULT_VENV)


def ensure_emulator_venv() -> Path:
    """Return the ``bqemulator`` executable, creating its virtualenv first if needed.

    The script is idempotent and takes a fraction of a second once the virtualenv exists, so it
    runs every time: it also re-installs DuckDB's spatial extension into ``~/.duckdb``, which
    lies outside the virtualenv and may have been cleared.
    """
    venv = emulator_venv()
    try:
        completed = subprocess.run(
            ["bash", str(SETUP_SCRIPT)],
            env={**os.environ, "BQEMULATOR_VENV": str(venv)},
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise EmulatorUnavailable(
            f"creating the BigQuery emulator virtualenv at {venv} took over "
            f"{SETUP_TIMEOUT_SECONDS:.0f} s (is PyPI reachable?)"
        ) from err
    if completed.returncode != 0:
        # pip prints one warning per unreachable index location; the last lines hold the cause.
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-5:])
        raise EmulatorUnavailable(
            f"could not create the BigQuery emulator virtualenv at {venv} with {SETUP_SCRIPT.name} "
            f"(no network to PyPI?):\n{tail}"
        )
    return venv / "bin" / "bqemulator"


def free_port() -> int:
    # The port is released before the emulator binds it; another process could take it in
    # between, which on a test machine is rare enough to accept.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(url: str) -> bool:
    # A direct opener: /healthz on 127.0.0.1 must not go through an HTTP(S)_PROXY.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def running_emulator(
    project: str = EMULATOR_PROJECT,
    *,
    executable: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Start ``bqemulator`` (in-memory) and yield its REST endpoint, e.g. ``http://127.0.0.1:PORT``.

    ``executable`` defaults to the one :func:`ensure_emulator_venv` prepares. Raises
    :class:`EmulatorUnavailable` when its virtualenv cannot be created, and RuntimeError (with the
    end of its log) when it was installed but does not become healthy in time.
    """
    executable = executable or ensure_emulator_venv()
    rest_port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{rest_port}"
    with tempfile.TemporaryDirectory(prefix="bqemulator-") as workdir:
        log_path = Path(workdir) / "bqemulator.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    str(executable), "start",
                    "--rest-host", "127.0.0.1", "--rest-port", str(rest_port),
                    "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc_port),
                    "--project", project,
                    "--ephemeral",
                    "--log-level", "warning",
                ],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the test run reaches pytest, which then stops the
                # emulator through the finally below instead of both racing on the signal.
                start_new_session=True,
            )
        try:
            wait_until_healthy(process, url, startup_timeout, log_path)
            yield url
        finally:
            stop(process)


def wait_until_healthy(
    process: subprocess.Popen, url: str, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"bqemulator exited with code {process.returncode} during startup:\n"
                f"{log_tail(log_path)}"
            )
        if is_healthy(url):
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"bqemulator did not answer {url}/healthz within {timeout:.0f} s:\n{log_tail(log_path)}"
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
