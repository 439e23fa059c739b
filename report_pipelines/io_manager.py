"""The IO manager that keeps step results encrypted and short-lived."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import dagster as dg
from cryptography.fernet import Fernet, InvalidToken
from pydantic import Field

from report_pipelines.names import default_home

RESULTS_TTL_HOURS = 24


def results_key() -> bytes:
    """The Fernet key for stored step results: REPORT_PIPELINES_SECRET_KEY when set, else a key
    file created once, readable only by its owner, in DAGSTER_HOME."""
    configured = os.environ.get("REPORT_PIPELINES_SECRET_KEY")
    if configured:
        return configured.encode()
    path = default_home() / ".results.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
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
        token = Fernet(results_key()).encrypt(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
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
            data = Fernet(results_key()).decrypt(path.read_bytes(), ttl=self.ttl_hours * 3600)
        except InvalidToken as err:
            raise dg.Failure(
                description=(
                    f"the stored result of {context.upstream_output.step_key} is older than "
                    f"{self.ttl_hours} h or was written with another key; re-execute all steps"
                )
            ) from err
        return pickle.loads(data)
