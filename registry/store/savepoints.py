"""Retrying a piece of a unit of work in a SAVEPOINT, for conflicts with concurrent writers."""

from __future__ import annotations

from sqlalchemy.orm import Session

__all__ = ["begin_for_savepoints"]


def begin_for_savepoints(session: Session) -> None:
    """Make sure the database transaction has begun before a SAVEPOINT is set.

    Python's sqlite3 driver begins a transaction only before a write, so a SAVEPOINT set
    before any write would itself open the transaction, and releasing it would commit the
    caller's unit of work early. On SQLite this begins it here, taking the write lock at once
    (BEGIN IMMEDIATE: one writer at a time, as the database allows anyway), unless this
    transaction has already written.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.dbapi_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
