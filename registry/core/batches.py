"""Splitting long lists for SQL: IN lists every backend accepts, and insert batches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

IN_LIST = 900
"""Values per SQL IN list (older SQLite builds allow 999 variables per statement)."""


def chunks(items: Sequence[T], size: int = IN_LIST) -> Iterable[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i:i + size]
