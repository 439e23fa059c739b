"""The IO manager that keeps step results encrypted and short-lived."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import dagster as dg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import Field

from report_pipelines.keys import fernet_keys
from report_pipelines.names import default_home

RESULTS_TTL_HOURS = 24


RESULTS_KEY_ENV = "REPORT_PIPELINES_RESULTS_KEY"
KEY_DIR_ENV = "REPORT_PIPELINES_KEY_DIR"


def key_dir() -> Path:
    """Where a generated key file lives: REPORT_PIPELINES_KEY_DIR, else
    ``$XDG_CONFIG_HOME/report_pipelines`` (``~/.config/report_pipelines``): never beside the
    data it protects in DAGSTER_HOME."""
    configured = os.environ.get(KEY_DIR_ENV, "").strip()
    if configured:
        return Path(configured)
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(config) / "report_pipelines"


def results_keys() -> MultiFernet:
    """The keys of stored step results, separate from the token key: REPORT_PIPELINES_RESULTS_KEY
    (one Fernet key, or several separated by commas: the first encrypts, each decrypts, so a new
    key rolls out while results written under the old one still open), else a key file
    generated once in :func:`key_dir`."""
    configured = os.environ.get(RESULTS_KEY_ENV, "").strip()
    try:
        return MultiFernet(fernet_keys(configured or _key_file()))
    except ValueError as err:
        raise dg.Failure(
            description=f"{RESULTS_KEY_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from err


def _key_file() -> bytes:
    """The generated results key, created race-free: written whole to a private temporary file,
    then linked into place (which fails if another process won), so nobody ever reads a partial
    key; the folder is 0700 and the file 0600."""
    folder = key_dir()
    path = folder / "results.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".results.key.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            os.unlink(temporary)
    return path.read_bytes().strip()


class EncryptedResultsIOManager(dg.ConfigurableIOManager):
    """Keeps step outputs (query results, analysis, the message) encrypted and short-lived.

    Dagster's default IO manager pickles outputs in plaintext under ``storage/<run_id>/``. Here
    each output is pickled, Fernet-encrypted and written there, so "re-execute from failure" in
    the UI can load the parent run's earlier steps. Results expire after ``ttl_hours``; the
    retention job deletes them.
    """

    ttl_hours: int = Field(
        default=RESULTS_TTL_HOURS, description="Hours a stored step result may be reused."
    )

    def _path(self, identifier: list[str]) -> Path:
        run_id, *rest = identifier
        return default_home() / "storage" / run_id / "report_results" / ("__".join(rest) + ".bin")

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        path = self._path(context.get_identifier())
        path.parent.mkdir(parents=True, exist_ok=True)
        token = results_keys().encrypt(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(token)
        os.replace(tmp, path)

    def load_input(self, context: dg.InputContext):
        path = self._path(context.get_identifier())
        if not path.exists():
            raise dg.Failure(
                description=(
                    f"the stored result of {context.upstream_output.step_key} is gone (deleted by "
                    "retention or never written); re-execute all steps"
                )
            )
        try:
            data = results_keys().decrypt(path.read_bytes(), ttl=self.ttl_hours * 3600)
        except InvalidToken as err:
            raise dg.Failure(
                description=(
                    f"the stored result of {context.upstream_output.step_key} is older than "
                    f"{self.ttl_hours} h or was written with another key; re-execute all steps"
                )
            ) from err
        return pickle.loads(data)
