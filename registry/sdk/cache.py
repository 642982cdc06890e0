"""Reads of the catalog kept by a client until the catalog changes.

Every change to the catalog (an apply, an SDK registration or batch, a lifecycle change, from
any process) is a change set with a new id, so the largest id is a version of the catalog: a
read asks for it (one indexed query) and answers from memory while it is unchanged. Callers
copy what they hand out, so nothing held here is ever changed by a caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from registry.read.lists import catalog_version

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_ENTRIES = 10_000


class CatalogCache:
    """Values computed from the catalog, dropped together whenever its version changes."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._version: int | None = None
        self._values: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def read(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key`` at the session's catalog version, computed once per version."""
        version = catalog_version(session)
        with self._lock:
            if version != self._version:
                self._values.clear()
                self._version = version
            elif key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            if self._version == version and len(self._values) < self.max_entries:
                self._values[key] = value
        return value
