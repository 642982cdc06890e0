"""Leases: mutual exclusion with expiry, in a database row, on SQLite and PostgreSQL alike.

A lease is a row of ``leases`` (name, holder, expires_at). Taking it is one atomic statement:
an INSERT that does nothing on conflict, else an UPDATE ... WHERE the lease expired or is
already ours. The holder renews it while it works (`LeaseKeeper`); a holder that crashes or is
killed stops renewing and the lease expires after its time to live, so the next taker proceeds.

Times come from the local clock of each instance (hosts should run NTP; the time to live
should exceed any clock skew between them).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from registry.store import models as m
from registry.store.db import session_scope

__all__ = ["LeaseInfo", "LeaseKeeper", "acquire_lease", "new_holder", "release_lease",
           "renew_lease"]

log = logging.getLogger(__name__)


def new_holder() -> str:
    """A holder name unique to this scheduler instance: host, process id and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseInfo:
    """The outcome of an attempt to take a lease."""

    name: str
    acquired: bool
    holder: str
    """Who holds the lease now (us when acquired)."""
    expires_at: datetime | None
    previous_holder: str | None = None
    """When we took over an expired lease: whose it was."""


def _now() -> datetime:
    return datetime.now(UTC)


def _insert_if_absent(session: Session, values: dict[str, object]) -> bool:
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    dialects: dict[str, Any] = {"postgresql": postgresql, "sqlite": sqlite}
    if engine.dialect.name not in dialects:  # pragma: no cover - SQLite and PostgreSQL only
        raise NotImplementedError(engine.dialect.name)
    stmt = dialects[engine.dialect.name].insert(m.Lease).values(**values)
    result: Any = session.execute(stmt.on_conflict_do_nothing())
    return bool(result.rowcount == 1)


def acquire_lease(
    sessions: sessionmaker[Session], name: str, holder: str, *, ttl: float,
    now: datetime | None = None, job_run_id: int | None = None,
) -> LeaseInfo:
    """Take lease ``name`` for ``ttl`` seconds if it is free, expired or already ours."""
    now = now or _now()
    expires = now + timedelta(seconds=ttl)
    values = {"name": name, "holder": holder, "acquired_at": now, "expires_at": expires,
              "job_run_id": job_run_id}
    with session_scope(sessions) as session:
        if _insert_if_absent(session, values):
            return LeaseInfo(name, True, holder, expires)
    with session_scope(sessions) as session:
        previous = session.execute(
            select(m.Lease.holder, m.Lease.expires_at).where(m.Lease.name == name)
        ).one_or_none()
        taken = session.execute(
            update(m.Lease)
            .where(m.Lease.name == name,
                   or_(m.Lease.expires_at < now, m.Lease.holder == holder))
            .values(holder=holder, acquired_at=now, expires_at=expires, job_run_id=job_run_id)
            .execution_options(synchronize_session=False)
        ).rowcount == 1  # type: ignore[attr-defined]
        if taken:
            before = previous[0] if previous is not None and previous[0] != holder else None
            return LeaseInfo(name, True, holder, expires, previous_holder=before)
        current = session.execute(
            select(m.Lease.holder, m.Lease.expires_at).where(m.Lease.name == name)
        ).one_or_none()
    if current is None:  # released between our two statements: try once more
        return acquire_lease(sessions, name, holder, ttl=ttl, now=now, job_run_id=job_run_id)
    return LeaseInfo(name, False, current[0], current[1])


def renew_lease(sessions: sessionmaker[Session], name: str, holder: str, *, ttl: float,
                now: datetime | None = None) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and was taken)."""
    expires = (now or _now()) + timedelta(seconds=ttl)
    with session_scope(sessions) as session:
        return session.execute(  # type: ignore[attr-defined,no-any-return]
            update(m.Lease).where(m.Lease.name == name, m.Lease.holder == holder)
            .values(expires_at=expires).execution_options(synchronize_session=False)
        ).rowcount == 1


def release_lease(sessions: sessionmaker[Session], name: str, holder: str) -> bool:
    """Give the lease up (only if it is still ours)."""
    with session_scope(sessions) as session:
        return session.execute(  # type: ignore[attr-defined,no-any-return]
            delete(m.Lease).where(m.Lease.name == name, m.Lease.holder == holder)
            .execution_options(synchronize_session=False)
        ).rowcount == 1


class LeaseKeeper:
    """Renews a held lease every ``ttl / 3`` seconds in a daemon thread until stopped.

    ``lost`` becomes True if a renewal finds the lease taken by someone else (we stalled for
    longer than its time to live).
    """

    def __init__(self, sessions: sessionmaker[Session], name: str, holder: str, *,
                 ttl: float) -> None:
        self.sessions, self.name, self.holder, self.ttl = sessions, name, holder, ttl
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {name}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not renew_lease(self.sessions, self.name, self.holder, ttl=self.ttl):
                    self.lost = True
                    return
            except Exception:  # a failed renewal (database away) is retried at the next tick
                log.warning("could not renew lease %s", self.name, exc_info=True)
