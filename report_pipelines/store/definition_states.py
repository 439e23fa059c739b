"""The ``definition_states`` table: each state of the report table the code location was built
from, stored once under its content hash.

Dagster hands a code location's reconstruction metadata to every run worker and embeds it in
every run's execution-plan snapshot. Storing the job-shaping rows there would make each run's
snapshot grow with the number of reports (and the stored snapshots with reports x changes);
storing them here leaves only a 64-character id in each run, and a run worker reads the state
back by that id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa

from report_pipelines.store.database import Database, NotFound, metadata, utcnow

definition_states = sa.Table(
    "definition_states",
    metadata,
    sa.Column("state_id", sa.String(64), primary_key=True),
    sa.Column("report_count", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # Set when a code server loads the state and (at most hourly) when a run worker reads it:
    # retention deletes states nothing has used within RETENTION_DAYS.
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
)
TOUCH_EVERY = dt.timedelta(hours=1)


class DefinitionStateNotFound(NotFound):
    pass


def state_body(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)


def state_id_of(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


class DefinitionStates:
    """Save a loaded state (idempotent: the same rows give the same id) and read it back."""

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)

    def save(self, state: dict) -> str:
        """``state``: ``{"rows": [...], ...}``; returns its id."""
        body = state_body(state)
        state_id = state_id_of(body)
        self.db.migrate()
        try:
            with self.db.begin() as conn:
                present = conn.execute(
                    sa.select(definition_states.c.state_id).where(definition_states.c.state_id == state_id)
                ).first()
                if present is None:
                    conn.execute(
                        definition_states.insert().values(
                            state_id=state_id, report_count=len(state.get("rows", [])), body=body, last_used_at=utcnow()
                        )
                    )
                else:
                    self._touch(conn, state_id)
        except sa.exc.IntegrityError:
            pass  # another code server saved the same state at the same moment
        return state_id

    def _touch(self, conn: sa.Connection, state_id: str) -> None:
        conn.execute(
            definition_states.update()
            .where(definition_states.c.state_id == state_id)
            .where(definition_states.c.last_used_at < utcnow() - TOUCH_EVERY)
            .values(last_used_at=utcnow())
        )

    def load(self, state_id: str) -> dict:
        with self.db.begin() as conn:
            body = conn.execute(
                sa.select(definition_states.c.body).where(definition_states.c.state_id == state_id)
            ).scalar()
            if body is not None:
                self._touch(conn, state_id)
        if body is None:
            raise DefinitionStateNotFound(
                f"the report table state {state_id[:12]} this run was launched with is no longer "
                "stored (pruned by retention?); re-launch the run from the current code location"
            )
        return json.loads(body)

    def prune(self, unused_since: dt.datetime) -> int:
        """Delete states no code server or run has used since ``unused_since``.

        A loaded code location's state is used at least every 15 minutes (the health job runs in
        it), so only states of earlier loads go.
        """
        if not self.db.has_table("definition_states"):
            return 0
        with self.db.begin() as conn:
            return conn.execute(
                definition_states.delete().where(definition_states.c.last_used_at < unused_since)
            ).rowcount
