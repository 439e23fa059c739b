"""The delivery ledger: each (report, window, destination) is delivered once.

This module is the whole exactly-once protocol, in :meth:`DeliveryLedger.deliver_once`:

1. A window's delivery is *claimed* before anything is sent: a "sending" row is inserted, and a
   unique index decides between two runs racing for the same window.
2. The message is sent; the row is *completed* ("posted", with where it went) after the answer.
3. A send that certainly did nothing (a refusal, a 429) *releases* the claim, so a later
   attempt may try again. A send that may have happened (a 5xx, a dropped connection) keeps
   the claim: the next attempt fails saying to check the channel, rather than risk a second
   message.
4. A window already posted is not sent again: every retry path (an op retry, a re-execution, a
   run retry, a second launch) finds the row. A *forced* run takes the row over and receives the
   earlier delivery, so it can edit that message in place instead of posting another.

No Dagster and no Slack import: the destination's sender is a callable handed in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from report_pipelines.store.database import Database, as_utc, metadata, utcnow

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.Integer, nullable=False),
    sa.Column("partition_key", sa.String(32), nullable=False),
    sa.Column("destination", sa.String(300), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(32)),
    sa.Column("ts", sa.String(32)),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Thread replies (SQL, overflow, chart, CSV) went out; a retry finishes them if not.
    sa.Column("extras_done", sa.Boolean),
    # The extras posted so far, each recorded as it goes out (a JSON list of their names).
    sa.Column("extras_posted", sa.Text),
    sa.UniqueConstraint("report_id", "partition_key", "destination", name="uq_delivery_window"),
)

SENDING = "sending"
POSTED = "posted"


@dataclass(frozen=True)
class DeliveryKey:
    report_id: int
    partition_key: str
    destination: str


@dataclass(frozen=True)
class LedgerEntry:
    report_id: int
    partition_key: str
    destination: str
    status: str  # SENDING | POSTED
    channel: str | None
    ts: str | None
    run_id: str
    updated_at: dt.datetime
    extras_done: bool = False
    extras_posted: tuple[str, ...] = ()

    @property
    def posted(self) -> bool:
        return self.status == POSTED


@dataclass(frozen=True)
class Sent:
    """Where a message went: the channel and its Slack ts (or the destination's own id)."""

    channel: str | None
    ts: str | None


@dataclass(frozen=True)
class Delivered:
    """The outcome of :meth:`DeliveryLedger.deliver_once`.

    ``sent`` is False when the window had been posted already (``entry`` says where and by which
    run); ``previous`` is the earlier delivery a forced run replaced, if any."""

    entry: LedgerEntry
    sent: bool
    previous: LedgerEntry | None = None


class DeliveryInDoubt(RuntimeError):
    """An earlier attempt started sending this window and never confirmed it."""

    def __init__(self, entry: LedgerEntry | None):
        run = entry.run_id if entry else "another run"
        where = entry.destination if entry else "its destination"
        super().__init__(
            f"run {run} started posting this window to {where} and never confirmed it; check the "
            "channel, then settle it with `report-pipelines deliveries resolve SLUG --partition KEY "
            "--delivered` if the message is there or `--retry` if it is missing (or force a re-run: "
            "`report-pipelines run SLUG --partition KEY --force`)"
        )
        self.entry = entry


def _entry(row: sa.RowMapping) -> LedgerEntry:
    return LedgerEntry(
        report_id=row["report_id"], partition_key=row["partition_key"],
        destination=row["destination"], status=row["status"], channel=row["channel"],
        ts=row["ts"], run_id=row["run_id"], updated_at=as_utc(row["updated_at"]),
        extras_done=bool(row["extras_done"]),
        extras_posted=tuple(json.loads(row["extras_posted"] or "[]")),
    )  # fmt: skip


class DeliveryLedger:
    """Claims and records deliveries so each (report, window, destination) is sent once.

    Example::

        ledger = DeliveryLedger()
        outcome = ledger.deliver_once(key, run_id=run_id, force=False, send=post,
                                      may_have_sent=lambda err: True)
    """

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)
        self.db.migrate()

    def get(self, key: DeliveryKey) -> LedgerEntry | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(self._where(key))).mappings().first()
        return _entry(row) if row else None

    def report_message(self, channel: str, ts: str) -> LedgerEntry | None:
        """The report window whose message is ``ts`` in ``channel`` (notices and answers are not
        report messages)."""
        query = sa.select(deliveries).where(
            deliveries.c.channel == channel, deliveries.c.ts == ts, deliveries.c.status == POSTED,
            ~deliveries.c.destination.startswith("notice/"), ~deliveries.c.destination.startswith("answer/"),
        )  # fmt: skip
        with self.db.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _entry(row) if row else None

    def for_window(self, report_id: int, partition_key: str) -> list[LedgerEntry]:
        """Every destination's delivery of one window."""
        query = sa.select(deliveries).where(
            deliveries.c.report_id == report_id, deliveries.c.partition_key == partition_key
        )
        with self.db.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def deliver_once(
        self,
        key: DeliveryKey,
        *,
        run_id: str,
        force: bool,
        send: Callable[[LedgerEntry | None], Sent],
        may_have_sent: Callable[[BaseException], bool],
    ) -> Delivered:
        """Send through ``send`` unless the window was delivered; the protocol in the docstring.

        ``send`` receives the earlier delivery when a forced run replaces one (to edit it in
        place), else None. ``may_have_sent`` says whether an exception from ``send`` leaves the
        message possibly sent. Raises :class:`DeliveryInDoubt` for an unconfirmed earlier attempt.
        """
        existing = self.get(key)
        if existing is not None and not force:
            return self._already(existing)
        if existing is None and not self._claim(key, run_id):
            # Another run claimed the window between our read and our insert.
            return self._already(self.get(key))
        if existing is not None:
            self._take_over(key, run_id)
        try:
            sent = send(existing)
        except BaseException as err:
            if existing is None and not may_have_sent(err):
                self._release(key, run_id)
            raise
        self._complete(key, run_id, sent)
        return Delivered(entry=self.get(key), sent=True, previous=existing)

    def in_doubt(self) -> list[LedgerEntry]:
        """Claims still "sending": a run started posting and never confirmed it (it crashed, or
        Slack never answered). Each blocks its window until an operator resolves it."""
        query = sa.select(deliveries).where(deliveries.c.status == SENDING).order_by(deliveries.c.updated_at)
        with self.db.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def resolve(self, key: DeliveryKey, *, delivered: bool, ts: str | None = None) -> LedgerEntry | None:
        """Settle an in-doubt claim: ``delivered`` marks it posted (the message is in the
        channel; it is never posted again), else the claim is dropped so the next run of the
        window posts. Raises LookupError when ``key`` holds no in-doubt claim."""
        with self.db.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(self._where(key))).mappings().first()
            if row is None or row["status"] != SENDING:
                state = "no claim" if row is None else f"a {row['status']} delivery, not an in-doubt claim"
                raise LookupError(f"{key.destination} for window {key.partition_key} has {state}")
            if delivered:
                conn.execute(deliveries.update().where(self._where(key)).values(
                    status=POSTED, ts=ts or row["ts"], updated_at=utcnow()))
            else:
                conn.execute(deliveries.delete().where(self._where(key), deliveries.c.status == SENDING))
        return self.get(key)

    def mark_extras_done(self, key: DeliveryKey) -> None:
        self._update(key, extras_done=True)

    def mark_extra_posted(self, key: DeliveryKey, name: str) -> None:
        """Record one thread extra as posted, the moment it is: a retry skips it."""
        with self.db.begin() as conn:
            current = conn.execute(sa.select(deliveries.c.extras_posted).where(self._where(key))).scalar()
            names = json.loads(current or "[]")
            if name not in names:
                names.append(name)
            conn.execute(
                deliveries.update().where(self._where(key)).values(extras_posted=json.dumps(names), updated_at=utcnow())
            )

    def adopt(self, key: DeliveryKey, earlier: Sequence[str], channel: str | None = None) -> LedgerEntry | None:
        """Give ``key`` the window's row recorded under an earlier name of the same destination:
        a destination in ``earlier`` (as an earlier release named it), or, with ``channel``, a
        row of the same workspace and kind posted to that channel ID. Returns the row now under
        ``key``, if any; nothing changes when ``key`` has one already."""
        existing = self.get(key)
        if existing is not None:
            return existing
        prefix = key.destination.rsplit("/", 1)[0] + "/"
        for entry in self.for_window(key.report_id, key.partition_key):
            same = entry.destination in earlier or (
                channel is not None and entry.channel == channel and entry.destination.startswith(prefix)
            )
            if same and entry.destination != key.destination:
                with self.db.begin() as conn:
                    conn.execute(
                        deliveries.update()
                        .where(self._where(DeliveryKey(key.report_id, key.partition_key, entry.destination)))
                        .values(destination=key.destination)
                    )
                return self.get(key)
        return None

    @staticmethod
    def _already(existing: LedgerEntry | None) -> Delivered:
        if existing is None or not existing.posted:
            raise DeliveryInDoubt(existing)
        return Delivered(entry=existing, sent=False)

    @staticmethod
    def _where(key: DeliveryKey):
        return sa.and_(
            deliveries.c.report_id == key.report_id,
            deliveries.c.partition_key == key.partition_key,
            deliveries.c.destination == key.destination,
        )

    def _claim(self, key: DeliveryKey, run_id: str) -> bool:
        """Insert a "sending" row; False when the window already has one (the unique index
        decides, so two runs racing for the same window cannot both win)."""
        now = utcnow()
        try:
            with self.db.begin() as conn:
                conn.execute(
                    deliveries.insert().values(
                        report_id=key.report_id, partition_key=key.partition_key,
                        destination=key.destination, status=SENDING, run_id=run_id,
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        except sa.exc.IntegrityError:
            return False
        return True

    def _complete(self, key: DeliveryKey, run_id: str, sent: Sent) -> None:
        self._update(key, status=POSTED, channel=sent.channel, ts=sent.ts, run_id=run_id)

    def _take_over(self, key: DeliveryKey, run_id: str) -> None:
        """A forced re-run owns the row from now on (its earlier ts is kept until it posts)."""
        self._update(key, run_id=run_id)

    def _release(self, key: DeliveryKey, run_id: str) -> None:
        """Drop this run's claim after a failure that certainly sent nothing."""
        with self.db.begin() as conn:
            conn.execute(
                deliveries.delete().where(
                    self._where(key), deliveries.c.run_id == run_id, deliveries.c.status == SENDING
                )
            )

    def _update(self, key: DeliveryKey, **values) -> None:
        with self.db.begin() as conn:
            conn.execute(deliveries.update().where(self._where(key)).values(**values, updated_at=utcnow()))
