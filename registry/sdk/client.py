"""The Python client: `registry.connect(url)`.

A database URL gives the direct transport (services in-process); an http(s):// URL gives the
HTTP transport against `featreg serve` (same interface, same errors). Registrations go through
the same spec validation and plan/apply path as YAML files.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from registry.catalog import lineage
from registry.catalog import service as catalog
from registry.catalog.plan import Plan
from registry.core.errors import InvalidInput, NotFound
from registry.read.lists import feature_list
from registry.sdk.cache import CatalogCache
from registry.sdk.registration import Registrations
from registry.store.db import database_url, session_factory, session_scope


class Client(Registrations):
    """Direct-to-database client. Every call is one unit of work (or one batch)."""

    def __init__(self, url: str | None = None, *, actor: str | None = None) -> None:
        self.url = database_url(url)
        self.actor = catalog.resolve_actor(actor)
        self._sessions = session_factory(self.url)
        self._batch = None
        self._bundle = None
        self._cache = CatalogCache()

    # -- registration -------------------------------------------------------------------------
    def _apply(self, entries: Sequence[tuple[str, Mapping[str, Any]]], label: str) -> Plan:
        spec = catalog.spec_from_entries(entries)
        with session_scope(self._sessions) as session:
            plan, _ = catalog.apply_spec(session, spec, actor=self.actor, kind="sdk",
                                         label=label[:255])
        return plan

    # -- lifecycle ----------------------------------------------------------------------------
    def deprecate(self, feature: str, *, sunset: date, replacement: str | None = None,
                  reason: str | None = None) -> Plan:
        with session_scope(self._sessions) as session:
            return catalog.set_lifecycle(session, feature, status="deprecated", actor=self.actor,
                                         sunset=sunset, replacement=replacement, reason=reason)

    def undeprecate(self, feature: str) -> Plan:
        with session_scope(self._sessions) as session:
            return catalog.set_lifecycle(session, feature, status="active", actor=self.actor)

    def retire(self, feature: str, *, reason: str | None = None) -> Plan:
        with session_scope(self._sessions) as session:
            return catalog.set_lifecycle(session, feature, status="retired", actor=self.actor,
                                         reason=reason)

    # -- reading ------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any]:
        """A feature, source, consumer or team as a dict (with `type` and `name`)."""
        with session_scope(self._sessions) as session:
            kind, fields = self._cache.read(session, ("get", name),
                                            lambda: catalog.find_object(session, name))
        return {"type": kind.rstrip("s"), "name": name, **copy.deepcopy(fields)}

    def list(self, *, owner: str | None = None, status: str | None = None,
             tag: str | None = None, search: str | None = None) -> builtins.list[dict[str, Any]]:
        with session_scope(self._sessions) as session:
            entries = self._cache.read(
                session, ("list", owner, status, tag, search),
                lambda: feature_list(session, owner=owner, status=status, tag=tag,
                                     search=search))
        return [dict(entry) for entry in entries]  # entries hold plain values only

    def search(self, text: str) -> builtins.list[dict[str, Any]]:
        return self.list(search=text)

    def lineage(self, name: str, *, upstream: bool = False, depth: int | None = None
                ) -> builtins.list[dict[str, Any]]:
        with session_scope(self._sessions) as session:
            nodes = lineage.lineage(session, name, downstream=not upstream, depth=depth)
        return [n.to_dict() for n in nodes]

    def impact(self, source: str) -> builtins.list[dict[str, Any]]:
        with session_scope(self._sessions) as session:
            return [n.to_dict() for n in lineage.impact(session, source)]

    def closure(self, consumer: str) -> builtins.list[dict[str, Any]]:
        with session_scope(self._sessions) as session:
            return [n.to_dict() for n in lineage.closure(session, consumer)]

    def history(self, name: str | None = None, limit: int = 200) -> builtins.list[dict[str, Any]]:
        with session_scope(self._sessions) as session:
            return [{"ts": e.ts.isoformat(), "actor": e.actor, "action": e.action,
                     "type": e.object_type, "name": e.object_name, "before": e.before,
                     "after": e.after} for e in catalog.history(session, name, limit)]

    # -- evidence -----------------------------------------------------------------------------
    # Usage, importance and snapshots (registry/evidence). Keep this block contiguous; its
    # imports are local so that the block stays self-contained.
    def log_usage(self, consumer: str, features: str | builtins.list[str], count: int = 1,
                  ts: datetime | None = None) -> int:
        """Record ``count`` reads of each feature by ``consumer`` (at ``ts``, default now);
        returns the reads recorded. For per-request logging use `usage_logger`."""
        from datetime import UTC

        from registry.evidence.usage import record_usage
        from registry.evidence.usage_events import UsageEvent

        names = (features,) if isinstance(features, str) else tuple(features)
        event = UsageEvent(ts or datetime.now(UTC), consumer, names, count)
        with session_scope(self._sessions) as session:
            return record_usage(session, [event])

    def usage_logger(self, consumer: str, *, flush_interval: float = 5.0,
                     max_events: int = 10_000) -> Any:
        """A batching logger (`registry.evidence.usage_logger.UsageLogger`):
        `.log(features, count=1)` is cheap enough for every request; reads are written in the
        background every ``flush_interval`` seconds or ``max_events`` events, on `.flush()`,
        on `.close()` and at interpreter exit. Use it as a context manager or close it."""
        from registry.evidence.usage import record_usage
        from registry.evidence.usage_events import DailyCount
        from registry.evidence.usage_logger import UsageLogger

        def write(counts: Sequence[DailyCount]) -> None:
            with session_scope(self._sessions) as session:
                record_usage(session, counts)

        return UsageLogger(consumer, write, flush_interval=flush_interval,
                           max_events=max_events)

    def report_importance(self, consumer: str, values: Mapping[str, float], *,
                          method: str | None = None, metric: str | None = None,
                          ts: datetime | None = None) -> int:
        """Store one importance report of ``consumer`` (a training run); returns its id.
        Reporting the same (consumer, ts, method, metric) again replaces its values."""
        from registry.evidence.importance import report_importance

        with session_scope(self._sessions) as session:
            report_id, _ = report_importance(session, consumer, values, method=method,
                                             metric=metric, ts=ts, actor=self.actor)
        return report_id

    def latest_importance(self, consumer: str | None = None) -> dict[str, dict[str, Any]]:
        """The latest importance report per consumer (or of one consumer), as dicts."""
        from registry.evidence.importance import latest_reports

        with session_scope(self._sessions) as session:
            reports = latest_reports(session, consumers=None if consumer is None else [consumer])
        return {name: report.to_dict() for name, report in reports.items()}

    def feature_usage(self, feature: str | None = None, *, now: datetime | None = None
                      ) -> dict[str, dict[str, Any]]:
        """Last read, reads in 7/30/90 days and readers per feature, counted back from now."""
        from dataclasses import asdict
        from datetime import UTC

        from registry.evidence.rollups import feature_usage

        with session_scope(self._sessions) as session:
            usage = feature_usage(session, now or datetime.now(UTC),
                                  features=None if feature is None else [feature])
        return {name: asdict(row) for name, row in usage.items()}

    def add_snapshot(self, path: str, *, label: str | None = None, consumer: str | None = None,
                     name: str | None = None, taken_at: datetime | None = None
                     ) -> dict[str, Any]:
        """Register a data snapshot (statistics, correlations, computed importance when
        labelled for a consumer) taken at ``taken_at`` (aware; default now); returns its
        summary."""
        from dataclasses import asdict

        from registry.evidence.snapshots import add_snapshot

        with session_scope(self._sessions) as session:
            summary = add_snapshot(session, path, label=label, consumer=consumer, name=name,
                                   actor=self.actor, taken_at=taken_at)
        return asdict(summary)


def connect(url: str | None = None, *, actor: str | None = None,
            token: str | None = None) -> Client | HttpClient:
    """A client: direct (services in-process) for a database URL, or `HttpClient` for the URL
    of a `featreg serve` (http:// or https://), which writes with `token` (default: the
    FEATREG_TOKEN environment variable). Same methods, values and errors. The direct client
    acts with the database's own credentials and needs no token."""
    if url and url.startswith(("http://", "https://")):
        from registry.sdk.http import HttpClient

        return HttpClient(url, actor=actor, token=token)
    return Client(url, actor=actor)


if TYPE_CHECKING:
    from registry.sdk.http import HttpClient


__all__ = ["Client", "InvalidInput", "NotFound", "connect"]
