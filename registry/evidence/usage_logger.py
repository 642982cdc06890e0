"""A batching usage logger for serving code: `log()` per request, writes in the background.

`UsageLogger.log` only checks its arguments (with the usage validator's own name and count
rules) and puts a tuple on a queue (about a microsecond). A background thread adds the events
up per (day, feature) in memory and hands the aggregate, as daily counts
(`registry.evidence.usage_events.DailyCount`: reads, first and last read of each day and
feature), to a ``sink`` every ``flush_interval`` seconds, after ``max_events`` events, on
`flush()`, on `close()`, and at interpreter exit (``atexit``). The SDK's sinks hand the counts
to the usage service (`registry.evidence.usage.record_usage`), directly or through
``POST /api/v1/usage``, which validates them like any other usage. If the sink fails (database
or server away), the aggregate is kept and retried at the next flush; it stays small because
it holds one cell per (day, feature), not one per event. Failures are logged with `logging`
and counted in ``failed_flushes``.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from registry.core.names import name_problem
from registry.evidence.usage_events import DailyCount, DailyReadCounts, count_problem

__all__ = ["UsageLogger"]

log = logging.getLogger(__name__)
_STOP = object()
Sink = Callable[[Sequence[DailyCount]], object]


def _check(problem: str | None, value: object) -> None:
    if problem:
        raise ValueError(f"{problem}, not {value!r}")


class UsageLogger:
    """Batches reads by one consumer; see the module docstring. Use as a context manager or
    call `close()`; anything still pending at interpreter exit is written then."""

    def __init__(self, consumer: str, sink: Sink, *, flush_interval: float = 5.0,
                 max_events: int = 10_000) -> None:
        _check(name_problem(consumer, "consumer"), consumer)
        self.consumer = consumer
        if flush_interval <= 0 or max_events < 1:
            raise ValueError("flush_interval must be positive and max_events at least 1")
        self.flush_interval = flush_interval
        self.max_events = max_events
        self.failed_flushes = 0
        self.written_events = 0
        self._sink = sink
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"featreg-usage-{consumer}")
        self._thread.start()
        atexit.register(self.close)

    def log(self, features: str | Iterable[str], count: int = 1) -> None:
        """Record ``count`` reads of each feature now. Raises ValueError on bad arguments."""
        if self._closed:
            raise RuntimeError("this usage logger is closed")
        names = (features,) if isinstance(features, str) else tuple(features)
        if not names:
            raise ValueError("features must name at least one feature")
        for name in names:
            _check(name_problem(name, "feature"), name)
        _check(count_problem(count), count)
        self._queue.put((time.time(), tuple(dict.fromkeys(names)), count))

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything logged so far; True when done within ``timeout``."""
        if self._closed:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write what is pending and stop the background thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def __enter__(self) -> UsageLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- background thread --------------------------------------------------------------------
    def _run(self) -> None:
        counts, events = DailyReadCounts(), 0
        deadline = time.monotonic() + self.flush_interval
        while True:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._write(counts, events)
                return
            if isinstance(item, threading.Event):
                counts, events = self._write(counts, events)
                item.set()
                continue
            if isinstance(item, tuple):
                stamp, features, count = item
                counts.add(datetime.fromtimestamp(stamp, UTC), self.consumer, features, count)
                events += 1
            if events >= self.max_events or time.monotonic() >= deadline:
                counts, events = self._write(counts, events)
                deadline = time.monotonic() + self.flush_interval

    def _write(self, counts: DailyReadCounts, events: int) -> tuple[DailyReadCounts, int]:
        """Hand ``counts`` to the sink: an empty aggregate on success, ``counts`` on failure."""
        if not len(counts):
            return counts, 0
        try:
            self._sink(counts.daily_counts())
        except Exception:  # a logger must never break the serving loop
            self.failed_flushes += 1
            log.exception("featreg: writing usage of %s failed; will retry", self.consumer)
            return counts, events
        self.written_events += events
        return DailyReadCounts(), 0
