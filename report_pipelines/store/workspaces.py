"""The ``slack_workspaces`` table: Slack workspaces and their bot tokens, stored encrypted.

Tokens are Fernet-encrypted with REPORT_PIPELINES_SECRET_KEY. Rotation re-encrypts every token
with ``MultiFernet.rotate`` in one transaction: all tokens move to the new key, or none does.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from report_pipelines.keys import fernet_keys

from report_pipelines.models import ReportValidationError
from report_pipelines.store.database import Database, NotFound, as_utc, metadata, utcnow

SECRET_KEY_ENV = "REPORT_PIPELINES_SECRET_KEY"
BOT_TOKEN_PREFIX = "xoxb-"

slack_workspaces = sa.Table(
    "slack_workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team_id", sa.String(32), nullable=False, unique=True),
    sa.Column("team_name", sa.String(200), nullable=False),
    sa.Column("bot_token_encrypted", sa.Text, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Set when Slack rejects the token (invalid_auth, token_revoked ...); cleared on re-adding it.
    sa.Column("last_error", sa.String(64)),
    sa.Column("last_error_at", sa.DateTime(timezone=True)),
)


class SecretKeyError(RuntimeError):
    """REPORT_PIPELINES_SECRET_KEY is missing or cannot decrypt a stored token."""


class WorkspaceNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Workspace:
    team_id: str
    team_name: str
    is_active: bool
    created_at: dt.datetime
    last_error: str | None = None
    last_error_at: dt.datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.last_error is None

    def as_dict(self) -> dict:
        return {
            "team_id": self.team_id, "team_name": self.team_name, "active": self.is_active,
            "healthy": self.healthy, "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "created_at": self.created_at.isoformat(),
        }  # fmt: skip


def check_bot_token(token: str) -> None:
    """A bot token, not a user or app token: the only kind that posts as the app."""
    if not token.startswith(BOT_TOKEN_PREFIX):
        raise ReportValidationError(
            f"the Slack bot token must start with {BOT_TOKEN_PREFIX} "
            "(OAuth & Permissions -> Bot User OAuth Token)"
        )


def _fernet(key: str | None = None, *, what: str = SECRET_KEY_ENV) -> MultiFernet:
    return MultiFernet(_keys(key, what=what))


def _keys(key: str | None = None, *, what: str = SECRET_KEY_ENV) -> list[Fernet]:
    """The token keys: ``key``, else REPORT_PIPELINES_SECRET_KEY, either one Fernet key or several
    separated by commas. The first encrypts; each of them decrypts, so a new key can be rolled
    out (``new,old``) while tokens stored under the old one still open, until `workspaces
    rotate-key` re-encrypts them."""
    key = key if key is not None else os.environ.get(SECRET_KEY_ENV)
    if not key or not key.strip():
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not set; create one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            " and export it wherever report-pipelines and Dagster run"
        )
    try:
        return fernet_keys(key)
    except ValueError as err:
        raise SecretKeyError(f"{what} is not a valid Fernet key (32 url-safe base64-encoded bytes)") from err


def _workspace(row: sa.RowMapping) -> Workspace:
    return Workspace(
        team_id=row["team_id"],
        team_name=row["team_name"],
        is_active=bool(row["is_active"]),
        created_at=as_utc(row["created_at"]),
        last_error=row["last_error"],
        last_error_at=as_utc(row["last_error_at"]) if row["last_error_at"] else None,
    )


class WorkspaceStore:
    """Reads and writes Slack workspaces; decrypts a token only when it is about to be used.

    Example::

        workspaces = WorkspaceStore()
        workspaces.add("T0123", "Acme", "xoxb-...")
        token = workspaces.token("T0123")
    """

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)

    @staticmethod
    def check_new(team_id: str, team_name: str, token: str) -> None:
        """What :meth:`add` refuses before anything is stored: empty names, a token that is not
        a bot token, a missing or invalid secret key."""
        if not team_id.strip() or not team_name.strip():
            raise ReportValidationError("team_id and team_name must not be empty")
        check_bot_token(token)
        _fernet()

    def add(self, team_id: str, team_name: str, token: str) -> Workspace:
        """Add a workspace, or replace its name and token (which clears its health error)."""
        self.check_new(team_id, team_name, token)
        encrypted = _fernet().encrypt(token.encode()).decode()
        self.db.migrate()
        now = utcnow()
        values = {
            "team_name": team_name, "bot_token_encrypted": encrypted, "is_active": True,
            "updated_at": now, "last_error": None, "last_error_at": None,
        }  # fmt: skip
        with self.db.begin() as conn:
            existing = conn.execute(
                sa.select(slack_workspaces.c.id).where(slack_workspaces.c.team_id == team_id)
            ).first()
            if existing:
                conn.execute(slack_workspaces.update().where(slack_workspaces.c.id == existing.id).values(**values))
            else:
                conn.execute(slack_workspaces.insert().values(team_id=team_id, created_at=now, **values))
        return self.get(team_id)

    def list(self, active_only: bool = False) -> list[Workspace]:
        if not self.db.has_table("slack_workspaces"):
            return []
        query = sa.select(slack_workspaces).order_by(slack_workspaces.c.id)
        if active_only:
            query = query.where(slack_workspaces.c.is_active.is_(True))
        with self.db.engine.connect() as conn:
            return [_workspace(row) for row in conn.execute(query).mappings()]

    def get(self, team_id: str) -> Workspace:
        found = next((w for w in self.list() if w.team_id == team_id), None)
        if found is None:
            raise WorkspaceNotFound(f"no Slack workspace {team_id}; add it with `report-pipelines workspaces add`")
        return found

    def token(self, team_id: str) -> str:
        with self.db.engine.connect() as conn:
            encrypted = conn.execute(
                sa.select(slack_workspaces.c.bot_token_encrypted).where(slack_workspaces.c.team_id == team_id)
            ).scalar_one_or_none()
        if encrypted is None:
            raise WorkspaceNotFound(f"no Slack workspace {team_id}; add it with `report-pipelines workspaces add`")
        try:
            return _fernet().decrypt(encrypted.encode()).decode()
        except InvalidToken as err:
            raise SecretKeyError(
                f"the stored token of workspace {team_id} cannot be decrypted with "
                f"{SECRET_KEY_ENV}; set the key it was stored with, or add the workspace again"
            ) from err

    def rotate_key(self, new_key: str) -> int:
        """Re-encrypt every stored token with ``new_key``, all or nothing; returns how many."""
        current = _keys()
        old = MultiFernet(current)
        keys = MultiFernet([*_keys(new_key, what="the new key"), *current])
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(slack_workspaces.c.id, slack_workspaces.c.team_id, slack_workspaces.c.bot_token_encrypted)
            ).all()
            for row in rows:
                try:
                    # Only tokens the current key opens are rotated: MultiFernet would also accept
                    # one already under the new key, hiding a store that mixes keys.
                    old.decrypt(row.bot_token_encrypted.encode())
                except InvalidToken as err:
                    raise SecretKeyError(
                        f"workspace {row.team_id}'s token does not decrypt with the current "
                        f"{SECRET_KEY_ENV}; nothing was re-encrypted"
                    ) from err
                conn.execute(
                    slack_workspaces.update().where(slack_workspaces.c.id == row.id).values(
                        bot_token_encrypted=keys.rotate(row.bot_token_encrypted.encode()).decode(),
                        updated_at=utcnow(),
                    )
                )
        return len(rows)

    def mark_unhealthy(self, team_id: str, error: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                slack_workspaces.update()
                .where(slack_workspaces.c.team_id == team_id)
                .values(last_error=error, last_error_at=utcnow())
            )

    def set_active(self, team_id: str, active: bool) -> None:
        with self.db.begin() as conn:
            updated = conn.execute(
                slack_workspaces.update()
                .where(slack_workspaces.c.team_id == team_id)
                .values(is_active=active, updated_at=utcnow())
            ).rowcount
        if not updated:
            raise WorkspaceNotFound(f"no Slack workspace {team_id}")
