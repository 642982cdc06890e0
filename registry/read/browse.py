"""List pages of the catalog's other kinds: sources, consumers and observed principals
(readers, registered or not), each paginated, sortable and filterable, as JSON-ready values.

Sources and consumers are queried page by page (a count per page, the rows of the page).
Principals are aggregated from the usage rollups once (`principal_rows`, which callers may
cache: it reads every rollup row) and then filtered, sorted and paged in memory
(`principals_page`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, case, distinct, func, select
from sqlalchemy.orm import Session

from registry.evidence.rollups import window_start
from registry.read.common import Pagination, active_finding_kinds, clamp_int, iso
from registry.store import models as m

PRINCIPAL_WINDOW_DAYS = 90
Rows = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ListQuery:
    """A list page's search text, filters, sort and page, as they appear in the URL."""

    q: str = ""
    sort: str = "name"
    filters: dict[str, str] = field(default_factory=dict)
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, Any], sorts: Sequence[str],
                  filters: Sequence[str] = ()) -> ListQuery:
        """Unknown sorts fall back to the first; empty filters are left out."""
        sort = str(args.get("sort") or "")
        return cls(q=_bounded(args.get("q")),
                   sort=sort if sort in sorts else sorts[0],
                   filters={k: _bounded(args[k]) for k in filters if args.get(k)},
                   page=clamp_int(args.get("page"), 1, 1, 1_000_000),
                   per_page=clamp_int(args.get("per_page"), 50, 1, 500))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_FILTER_CHARS = 200
"""Longest search or filter text taken from a URL: a longer one is cut (a LIKE pattern of
100,000 characters is refused by SQLite). NUL characters never get here (web.support refuses
them)."""


def _bounded(value: Any) -> str:
    return str(value or "").strip()[:MAX_FILTER_CHARS]


def like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_of(q: ListQuery, total: int) -> Pagination:
    return Pagination(min(q.page, Pagination(1, q.per_page, total).pages), q.per_page, total)


def _sql_page(session: Session, query: Rows, q: ListQuery,
              orders: Mapping[str, list[Any]]) -> tuple[list[Any], Pagination]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pagination = page_of(q, total)
    rows = session.execute(query.order_by(*orders[q.sort])
                           .offset(pagination.offset).limit(q.per_page)).all()
    return list(rows), pagination


def _narrowed(query: Rows, q: ListQuery, name: Any, columns: Mapping[str, Any]) -> Rows:
    """`query` kept to the names containing the search text and the filters' values (each
    filter of `q` on its column of `columns`)."""
    if q.q:
        query = query.where(func.lower(name).like(like_pattern(q.q), escape="\\"))
    for key, column in columns.items():
        if key in q.filters:
            query = query.where(column == q.filters[key])
    return query


def _listing(q: ListQuery, items: list[dict[str, Any]], pagination: Pagination,
             sorts: Mapping[str, str], choices: Mapping[str, list[str]]) -> dict[str, Any]:
    return {"query": q.to_dict(), "items": items, "pagination": pagination.to_dict(),
            "sorts": dict(sorts), "choices": dict(choices)}


def _teams(session: Session) -> list[str]:
    return list(session.scalars(select(m.Team.name).order_by(m.Team.name)))


# ----- sources ---------------------------------------------------------------------------------

SOURCE_SORTS = {"name": "name", "-name": "name (Z–A)", "owner": "owner", "kind": "kind",
                "-features": "most features", "features": "fewest features",
                "-updated": "latest update"}
SOURCE_FILTERS = ("owner", "kind", "readiness")


def sources_page(session: Session, q: ListQuery) -> dict[str, Any]:
    """Sources: name, kind, owner, how many features are built on each, freshness, readiness,
    last update, active finding kinds."""
    features = (select(m.FeatureSource.source_id, func.count().label("n"))
                .group_by(m.FeatureSource.source_id).subquery())
    updated = (select(m.SourceUpdate.source, func.max(m.SourceUpdate.at).label("at"))
               .group_by(m.SourceUpdate.source).subquery())
    n = func.coalesce(features.c.n, 0)
    query: Rows = (select(m.Source.name, m.Source.kind, m.Team.name, n, m.Source.freshness,
                    m.Source.readiness, updated.c.at, m.Source.description)
             .join(m.Team, m.Team.id == m.Source.owner_id)
             .outerjoin(features, features.c.source_id == m.Source.id)
             .outerjoin(updated, updated.c.source == m.Source.name))
    query = _narrowed(query, q, m.Source.name, {"owner": m.Team.name, "kind": m.Source.kind,
                                                "readiness": m.Source.readiness})
    name = m.Source.name
    orders: dict[str, list[Any]] = {
              "name": [name], "-name": [name.desc()], "owner": [m.Team.name, name],
              "kind": [m.Source.kind, name], "-features": [n.desc(), name],
              "features": [n, name], "-updated": [updated.c.at.is_(None), updated.c.at.desc(),
                                                  name]}
    rows, pagination = _sql_page(session, query, q, orders)
    kinds = active_finding_kinds(session, "source", [r[0] for r in rows])
    items = [{"name": r[0], "kind": r[1], "owner": r[2], "features": int(r[3]),
              "freshness": r[4], "readiness": r[5], "last_update": iso(r[6]),
              "description": r[7] or "", "findings": kinds.get(r[0], [])} for r in rows]
    choices = {"owner": _teams(session),
               "kind": sorted(session.scalars(select(m.Source.kind).distinct())),
               "readiness": ["A", "B", "C"]}
    return _listing(q, items, pagination, SOURCE_SORTS, choices)


# ----- consumers -------------------------------------------------------------------------------

CONSUMER_SORTS = {"name": "name", "-name": "name (Z–A)", "owner": "owner", "kind": "kind",
                  "stage": "stage", "-features": "most declared features",
                  "features": "fewest declared features"}
CONSUMER_FILTERS = ("owner", "kind", "stage")


def consumers_page(session: Session, q: ListQuery) -> dict[str, Any]:
    """Registered consumers: name, kind, owner, stage, how many features each declares, the
    sources it produces, active finding kinds."""
    declared = (select(m.ConsumerFeature.consumer_id, func.count().label("n"))
                .group_by(m.ConsumerFeature.consumer_id).subquery())
    n = func.coalesce(declared.c.n, 0)
    query: Rows = (select(m.Consumer.id, m.Consumer.name, m.Consumer.kind, m.Team.name,
                    m.Consumer.stage, n, m.Consumer.description, m.Consumer.version)
             .join(m.Team, m.Team.id == m.Consumer.owner_id)
             .outerjoin(declared, declared.c.consumer_id == m.Consumer.id))
    query = _narrowed(query, q, m.Consumer.name, {"owner": m.Team.name,
                                                  "kind": m.Consumer.kind,
                                                  "stage": m.Consumer.stage})
    name = m.Consumer.name
    orders: dict[str, list[Any]] = {
              "name": [name], "-name": [name.desc()], "owner": [m.Team.name, name],
              "kind": [m.Consumer.kind, name], "stage": [m.Consumer.stage, name],
              "-features": [n.desc(), name], "features": [n, name]}
    rows, pagination = _sql_page(session, query, q, orders)
    produces: dict[int, list[str]] = {}
    for consumer_id, source in session.execute(  # (consumer_id: never None here)
            select(m.Source.produced_by_id, m.Source.name)
            .where(m.Source.produced_by_id.in_([r[0] for r in rows])).order_by(m.Source.name)):
        produces.setdefault(consumer_id or 0, []).append(source)
    kinds = active_finding_kinds(session, "consumer", [r[1] for r in rows])
    items = [{"name": r[1], "kind": r[2], "owner": r[3], "stage": r[4],
              "features": int(r[5]), "produces": produces.get(r[0], []),
              "description": r[6] or "", "version": r[7],
              "findings": kinds.get(r[1], [])} for r in rows]
    choices = {"owner": _teams(session),
               "kind": sorted(session.scalars(select(m.Consumer.kind).distinct())),
               "stage": sorted(session.scalars(select(m.Consumer.stage).distinct()))}
    return _listing(q, items, pagination, CONSUMER_SORTS, choices)


# ----- principals ------------------------------------------------------------------------------

PRINCIPAL_SORTS = {"name": "name", "-name": "name (Z–A)", "-reads": "most recent reads",
                   "-total_reads": "most reads ever",
                   "-last_seen": "seen most recently", "last_seen": "seen longest ago",
                   "-features": "most features read"}
PRINCIPAL_FILTERS = ("registered",)


@dataclass(frozen=True)
class PrincipalRow:
    """An observed reader: reads in the window, features ever read, and when it last read."""

    name: str
    registered: bool
    reads: int
    """Reads in the window (the last PRINCIPAL_WINDOW_DAYS days)."""
    total_reads: int
    features: int
    last_seen: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "registered": self.registered, "reads": self.reads,
                "total_reads": self.total_reads, "features": self.features,
                "last_seen": iso(self.last_seen)}


def principal_rows(session: Session, now: datetime | None = None, *,
                   window_days: int = PRINCIPAL_WINDOW_DAYS) -> list[PrincipalRow]:
    """Every principal seen reading (up to the day of `now`), by name: one pass over the
    usage rollups (callers that list principals often should keep the result a while)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = window_start(now, window_days)
    U = m.UsageDaily
    query = (select(U.principal,
                    func.coalesce(func.sum(case((U.day >= start, U.reads), else_=0)), 0),
                    func.sum(U.reads), func.count(distinct(U.feature)), func.max(U.last_read))
             .where(U.day <= now.date()).group_by(U.principal).order_by(U.principal))
    registered = set(session.scalars(select(m.Consumer.name)))
    return [PrincipalRow(name, name in registered, int(reads), int(total or 0), int(features),
                         last)
            for name, reads, total, features, last in session.execute(query)]


PRINCIPAL_KEYS: dict[str, Callable[[PrincipalRow], Any]] = {
    "name": lambda p: p.name,
    "-reads": lambda p: (-p.reads, p.name),
    "-total_reads": lambda p: (-p.total_reads, p.name),
    "-features": lambda p: (-p.features, p.name),
    "-last_seen": lambda p: (-(p.last_seen.timestamp() if p.last_seen else 0), p.name),
    "last_seen": lambda p: (p.last_seen.timestamp() if p.last_seen else 0, p.name),
}


def principals_page(rows: Sequence[PrincipalRow], q: ListQuery) -> dict[str, Any]:
    """Observed principals filtered (`q` in the name; registered=yes|no), sorted and paged."""
    wanted = q.q.lower()
    registered = q.filters.get("registered")
    found = [p for p in rows
             if (not wanted or wanted in p.name.lower())
             and (registered is None or p.registered == (registered == "yes"))]
    if q.sort == "-name":
        found.sort(key=lambda p: p.name, reverse=True)
    else:
        found.sort(key=PRINCIPAL_KEYS[q.sort])
    pagination = page_of(q, len(found))
    items = [p.to_dict() for p in found[pagination.offset:pagination.offset + q.per_page]]
    return {**_listing(q, items, pagination, PRINCIPAL_SORTS, {"registered": ["yes", "no"]}),
            "window_days": PRINCIPAL_WINDOW_DAYS,
            "unregistered": sum(1 for p in rows if not p.registered)}
