"""Read-side services the web pages and the JSON API share: home, catalog, findings, teams.

Every function takes a Session and returns JSON-ready values. Detail pages live in
`registry.read.detail`, graphs in `registry.read.graph`, usage and importance in
`registry.read.evidence`, reports and jobs in `registry.read.ops`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, astuple, dataclass, replace
from functools import cached_property
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from registry.catalog.search import (
    FeatureSearchIndex,
    IndexedFeature,
    SearchResult,
    feature_search_condition,
    relevance_order,
)
from registry.catalog.service import catalog_counts
from registry.core.batches import chunks
from registry.core.errors import InvalidInput, Problem
from registry.findings.records import STATUSES as FINDING_STATUSES
from registry.read.catalog_usage import USAGE_SORTS, UsageTable, usage_order
from registry.read.common import (
    ACTIVE_STATUSES,
    Pagination,
    active_finding_kinds,
    audit_to_dict,
    clamp_int,
    first_line,
    run,
    tags_of,
)
from registry.store import models as m

FEATURE_STATUSES = ("active", "deprecated", "retired")
SEVERITIES = ("critical", "warning", "info")
RECENT_OBJECTS = 6


def finding_kinds() -> tuple[str, ...]:
    """Every finding kind, in report order (from the detector registry)."""
    from registry.analysis.detectors import KINDS

    return KINDS


# ----- home ------------------------------------------------------------------------------------


def home_summary(session: Session, *, recent: int = 15) -> dict[str, Any]:
    """Totals, open findings by kind and by team, the latest weekly report, recent changes."""
    from registry.read.ops import latest_report  # lazily: the SDK's `list` needs no reports

    totals: dict[str, int] = dict(catalog_counts(session))
    for status in ("deprecated", "retired"):
        totals[f"{status}_features"] = session.scalar(
            select(func.count()).select_from(m.Feature).where(m.Feature.status == status)) or 0
    open_by_kind = dict(session.execute(
        select(m.Finding.kind, func.count()).where(m.Finding.status == "open")
        .group_by(m.Finding.kind)).all())
    totals["open_findings"] = sum(open_by_kind.values())
    by_team = session.execute(
        select(m.Finding.owner, func.count()).where(m.Finding.status == "open")
        .group_by(m.Finding.owner)).all()
    changes = recent_changes(session, limit=recent)
    return {
        "totals": totals,
        "open_findings_by_kind": [{"kind": k, "count": open_by_kind[k]}
                                  for k in _ordered_kinds(open_by_kind)],
        "open_findings_by_team": sorted(
            ({"team": team, "count": count} for team, count in by_team),
            key=lambda row: (-row["count"], row["team"] or "")),
        "latest_report": latest_report(session),
        "recent_changes": changes,
    }


def recent_changes(session: Session, *, limit: int = 15, scan: int = 2000
                   ) -> list[dict[str, Any]]:
    """The latest changes, one entry per change set (an apply, an SDK batch) or lone event.

    Each entry: ts, actor, label, counts per action, the first few objects and how many more.
    Only the objects shown have their before/after read (to name the fields they changed).
    """
    A = m.AuditEvent
    events = session.execute(select(A.id, A.changeset_id, A.ts, A.actor, A.action,
                                    A.object_type, A.object_name)
                             .order_by(A.ts.desc(), A.id.desc()).limit(scan))
    groups: list[dict[str, Any]] = []
    index: dict[int, dict[str, Any]] = {}
    shown: dict[int, dict[str, Any]] = {}
    for event_id, changeset, ts, actor, action, object_type, object_name in events:
        group = index.get(changeset) if changeset is not None else None
        if group is None:
            if len(groups) >= limit:
                continue
            group = {"changeset": changeset, "ts": ts.isoformat(), "actor": actor,
                     "label": None, "actions": {}, "objects": [], "more": 0}
            groups.append(group)
            if changeset is not None:
                index[changeset] = group
        group["actions"][action] = group["actions"].get(action, 0) + 1
        if len(group["objects"]) < RECENT_OBJECTS:
            shown[event_id] = {"type": object_type, "name": object_name, "action": action,
                               "changed": []}
            group["objects"].append(shown[event_id])
        else:
            group["more"] += 1
    for part in chunks(sorted(shown)):
        for event in session.scalars(select(A).where(A.id.in_(part))):
            shown[event.id]["changed"] = audit_to_dict(event)["changed"]
    labels = dict(session.execute(select(m.ChangeSet.id, m.ChangeSet.label).where(
        m.ChangeSet.id.in_([g["changeset"] for g in groups if g["changeset"]]))).all())
    for group in groups:
        group["label"] = labels.get(group["changeset"])
    return groups


def _ordered_kinds(counts: Mapping[str, int]) -> list[str]:
    known = [k for k in finding_kinds() if k in counts]
    return known + sorted(k for k in counts if k not in known)


# ----- catalog ---------------------------------------------------------------------------------

CATALOG_SORTS: dict[str, str] = {
    "relevance": "best match", "name": "name", "-name": "name (Z–A)", "owner": "owner",
    "status": "status", "-created": "newest", "created": "oldest", "dtype": "type",
    **USAGE_SORTS,
}


def _non_default_args(query: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A query dataclass's fields (with `changes`) that differ from its defaults."""
    values = {**asdict(query), **changes}
    defaults = asdict(type(query)())
    return {k: v for k, v in values.items() if v != defaults[k]}


@dataclass(frozen=True)
class CatalogQuery:
    """The catalog's search, filters, sort and page, as they appear in the URL."""

    q: str = ""
    owner: str = ""
    status: str = ""
    tag: str = ""
    finding: str = ""
    sort: str = ""
    unread_days: int = 0
    """Only features with no read in this many days (never read included); 0: any."""
    no_readers: bool = False
    """Only features no principal read in the last 90 days."""
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> CatalogQuery:
        sort = str(args.get("sort") or "")
        status = str(args.get("status") or "")
        return cls(
            q=str(args.get("q") or "").strip()[:200],
            owner=str(args.get("owner") or ""), tag=str(args.get("tag") or ""),
            status=status if status in FEATURE_STATUSES else "",
            finding=str(args.get("finding") or ""),
            sort=sort if sort in CATALOG_SORTS else "",
            unread_days=clamp_int(args.get("unread_days"), 0, 0, 36_500),
            no_readers=str(args.get("no_readers") or "") in ("1", "true", "yes", "on"),
            page=clamp_int(args.get("page"), 1, 1, 1_000_000),
            per_page=clamp_int(args.get("per_page"), 50, 1, 500),
        )

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "name")

    @property
    def by_usage(self) -> bool:
        """Whether a usage filter or sort applies (`registry.read.catalog_usage`)."""
        return self.sort in USAGE_SORTS or self.unread_days > 0 or self.no_readers

    @property
    def search_sort(self) -> str:
        """The order of the search itself (a usage sort reorders its matches afterwards)."""
        if self.sort in USAGE_SORTS:
            return "relevance" if self.q else "name"
        return self.effective_sort

    def to_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default URL arguments (for links that keep the filters)."""
        return _non_default_args(self, changes)


def _order_by(query: Select[Any], q: CatalogQuery) -> Select[Any]:
    sort = q.search_sort
    name = m.Feature.name
    orders: dict[str, list[Any]] = {
        "relevance": [relevance_order(q.q), name], "name": [name], "-name": [name.desc()],
        "owner": [m.Team.name, name], "status": [m.Feature.status, name],
        "-created": [m.Feature.created.desc(), name], "created": [m.Feature.created, name],
        "dtype": [m.Feature.dtype, name],
    }
    return query.order_by(*orders[sort])


def _finding_filter(q: CatalogQuery) -> Select[Any]:
    flagged = select(m.Finding.subject_name).where(
        m.Finding.subject_type == "feature", m.Finding.status.in_(ACTIVE_STATUSES))
    return flagged if q.finding == "any" else flagged.where(m.Finding.kind == q.finding)


def _catalog_filters(q: CatalogQuery) -> list[Any]:
    where = [feature_search_condition(q.q)]
    if q.owner:
        where.append(m.Team.name == q.owner)
    if q.status:
        where.append(m.Feature.status == q.status)
    if q.tag:
        where.append(m.Feature.id.in_(select(m.FeatureTag.feature_id)
                                      .where(m.FeatureTag.tag == q.tag)))
    if q.finding:
        where.append(m.Feature.name.in_(_finding_filter(q)))
    return where


@dataclass(frozen=True)
class FeatureMatches:
    """The features a catalog query matches (its search text and filters), in its sort order:
    the one feature search of the catalog page, ``/api/v1/features`` and
    ``/api/v1/catalog/features`` (the SDK's `list`). How many, and any slice of them as catalog
    rows or as list entries.

    With `index` (see `registry.catalog.search`, current for `search_version`), the catalog
    rows come from memory without a query; without, from SQL. Both give the same rows.
    """

    session: Session
    query: CatalogQuery
    index: FeatureSearchIndex | None = None

    @cached_property
    def _found(self) -> SearchResult | None:
        q = self.query
        if self.index is None:
            return None
        return self.index.find(q.q, owner=q.owner, status=q.status, tag=q.tag,
                               finding=q.finding, sort=q.search_sort)

    @cached_property
    def _matching(self) -> Select[Any]:
        return (select(m.Feature.id).join(m.Team, m.Feature.owner_id == m.Team.id)
                .where(*_catalog_filters(self.query)))

    @cached_property
    def total(self) -> int:
        if self._found is not None:
            return self._found.total
        return self.session.scalar(
            select(func.count()).select_from(self._matching.subquery())) or 0

    def _ids(self, start: int, stop: int | None) -> list[int]:
        ordered = _order_by(self._matching, self.query).offset(start)
        return list(self.session.scalars(ordered if stop is None
                                         else ordered.limit(stop - start)))

    def _in_order(self, ids: list[int], *columns: Any) -> list[Any]:
        """(id, *columns) of each feature of `ids` (with its owner's columns), in that order."""
        rows: dict[int, Any] = {}
        for part in chunks(ids):
            rows.update((r[0], r) for r in self.session.execute(
                select(m.Feature.id, *columns).join(m.Team, m.Feature.owner_id == m.Team.id)
                .where(m.Feature.id.in_(part))))
        return [rows[i] for i in ids if i in rows]

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Catalog rows [start:stop]: name, owner, dtype, status, summary (the description's
        first line), sunset, created, tags, findings (kinds of the active ones)."""
        if self._found is not None:
            return [f.item() for f in self._found.items(start, stop)]
        ids = self._ids(start, stop)
        found = self._in_order(ids, m.Feature.name, m.Team.name, m.Feature.dtype,
                               m.Feature.status, m.Feature.description, m.Feature.sunset,
                               m.Feature.created)
        tags = tags_of(self.session, ids)
        kinds = active_finding_kinds(self.session, "feature", [r[1] for r in found])
        return [
            {"name": name, "owner": owner, "dtype": dtype, "status": status,
             "summary": first_line(description),
             "sunset": sunset.isoformat() if sunset else None, "created": created.isoformat(),
             "tags": tags.get(fid, []), "findings": kinds.get(name, [])}
            for fid, name, owner, dtype, status, description, sunset, created in found
        ]

    def rows_by_name(self) -> dict[str, Any]:
        """Every matching feature's name, in the search order, with what gives its catalog
        row (`catalog_row`): from the index without a query; from SQL, all rows at once."""
        if self._found is not None:
            return {f.name: f for f in self._found.items()}
        return {row["name"]: row for row in self.rows()}

    def entries(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """List entries [start:stop]: name, owner, dtype, status and the whole description
        (from SQL: the index holds no descriptions)."""
        return [{"name": name, "owner": owner, "dtype": dtype, "status": status,
                 "description": description}
                for _, name, owner, dtype, status, description in self._in_order(
                    self._ids(start, stop), m.Feature.name, m.Team.name, m.Feature.dtype,
                    m.Feature.status, m.Feature.description)]


UsageOrders = dict[tuple[Any, ...], tuple[list[str], dict[str, Any]]]
USAGE_ORDERS_KEPT = 8


def catalog_row(found: Any) -> dict[str, Any]:
    """A catalog row from what `FeatureMatches.rows_by_name` holds for a feature."""
    return found.item() if isinstance(found, IndexedFeature) else dict(found)


def catalog_page(session: Session, q: CatalogQuery,
                 index: FeatureSearchIndex | None = None,
                 usage: UsageTable | None = None,
                 orders: UsageOrders | None = None) -> dict[str, Any]:
    """One page of features matching the query, as catalog rows (`FeatureMatches`; from
    `index` when given), each with its `usage` when a usage table is given (which the usage
    filters and sorts need). `orders` keeps the last few usage-ordered results (valid for one
    index and usage table), so that paging through one costs no sort."""
    matches = FeatureMatches(session, q, index)
    by_usage = usage is not None and q.by_usage
    if usage is not None and by_usage:
        key = astuple(replace(q, page=1))
        held = orders.get(key) if orders is not None else None
        if held is None:
            rows = matches.rows_by_name()
            held = (usage_order(list(rows), usage, sort=q.sort, unread_days=q.unread_days,
                                no_readers=q.no_readers), rows)
            if orders is not None:
                if len(orders) >= USAGE_ORDERS_KEPT:
                    with suppress(RuntimeError, StopIteration):  # (another thread's change)
                        orders.pop(next(iter(orders)), None)
                orders[key] = held
        names, rows = held
    total = len(names) if by_usage else matches.total
    pagination = Pagination(min(q.page, Pagination(1, q.per_page, total).pages),
                            q.per_page, total)
    start, stop = pagination.offset, pagination.offset + q.per_page
    items = ([catalog_row(rows[name]) for name in names[start:stop]] if by_usage
             else matches.rows(start, stop))
    if usage is not None:
        items = [{**item, "usage": usage.get(item["name"]).to_dict()} for item in items]
    return {"query": {**asdict(q), "sort": q.effective_sort}, "items": items,
            "pagination": pagination.to_dict()}


def feature_list(session: Session, *, search: str | None = None, owner: str | None = None,
                 status: str | None = None, tag: str | None = None,
                 finding: str | None = None) -> list[dict[str, Any]]:
    """Every feature matching the filters, by name, as list entries: the SDK's `list` and
    ``/api/v1/catalog/features`` (`FeatureMatches` unpaged; `search` is the catalog's ``q``)."""
    q = CatalogQuery(q=search or "", owner=owner or "", status=status or "", tag=tag or "",
                     finding=finding or "", sort="name")
    return FeatureMatches(session, q).entries()


SEARCH_VERSION = select(select(func.max(m.ChangeSet.id)).scalar_subquery(),
                        select(func.max(m.AnalysisRun.id)).scalar_subquery())
CATALOG_VERSION = select(func.max(m.ChangeSet.id))


def search_version(session: Session) -> tuple[int, int]:
    """Changes whenever what the catalog search sees does: the catalog (any change set) or
    the findings it filters on (any analysis run). One round trip: every catalog page
    asks."""
    changes, runs = run(session, SEARCH_VERSION).one()
    return changes or 0, runs or 0


def catalog_version(session: Session) -> int:
    """A number that changes whenever the catalog does (every apply, SDK change set or
    lifecycle change is a change set): cached views of the catalog key on it."""
    return run(session, CATALOG_VERSION).scalar() or 0


def catalog_facets(session: Session, *, tag_limit: int = 300) -> dict[str, Any]:
    """The choices of the catalog's filters: owners, statuses, the most used tags, kinds."""
    tag_count = func.count().label("n")
    tags = session.execute(select(m.FeatureTag.tag, tag_count).group_by(m.FeatureTag.tag)
                           .order_by(tag_count.desc(), m.FeatureTag.tag).limit(tag_limit)).all()
    return {
        "owners": list(session.scalars(select(m.Team.name).order_by(m.Team.name))),
        "statuses": list(FEATURE_STATUSES),
        "tags": sorted(t for t, _ in tags),
        "finding_kinds": list(finding_kinds()),
        "sorts": CATALOG_SORTS,
    }


# ----- findings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingsQuery:
    kind: str = ""
    status: str = ""
    owner: str = ""
    severity: str = ""
    subject: str = ""
    page: int = 1
    per_page: int = 100

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> FindingsQuery:
        status = str(args.get("status") or "")
        severity = str(args.get("severity") or "")
        if status and status not in (*FINDING_STATUSES, "all"):
            raise InvalidInput([Problem(f"unknown status {status!r}: use one of "
                                        f"{', '.join((*FINDING_STATUSES, 'all'))}",
                                        field="status")])
        if severity and severity not in SEVERITIES:
            raise InvalidInput([Problem(f"unknown severity {severity!r}: use one of "
                                        f"{', '.join(SEVERITIES)}", field="severity")])
        return cls(kind=str(args.get("kind") or ""),
                   status=status,
                   owner=str(args.get("owner") or ""),
                   severity=severity,
                   subject=str(args.get("subject") or ""),
                   page=clamp_int(args.get("page"), 1, 1, 1_000_000),
                   per_page=clamp_int(args.get("per_page"), 100, 1, 1000))

    def to_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default URL arguments (for links that keep the filters)."""
        return _non_default_args(self, changes)


def findings_facets(session: Session) -> dict[str, Any]:
    owners = session.scalars(select(m.Finding.owner).where(m.Finding.owner.is_not(None))
                             .distinct().order_by(m.Finding.owner))
    return {"kinds": list(finding_kinds()), "statuses": [*FINDING_STATUSES, "all"],
            "severities": list(SEVERITIES), "owners": list(owners)}


# ----- teams -----------------------------------------------------------------------------------


def teams_list(session: Session) -> list[dict[str, Any]]:
    """Every team with how many features, sources, consumers and open findings it owns."""
    counts: dict[str, dict[str, int]] = {}
    for key, model in (("features", m.Feature), ("sources", m.Source),
                       ("consumers", m.Consumer)):
        counts[key] = dict(session.execute(
            select(m.Team.name, func.count(model.id)).join(model, model.owner_id == m.Team.id)
            .group_by(m.Team.name)).all())
    counts["open_findings"] = {
        owner: n for owner, n in session.execute(
            select(m.Finding.owner, func.count()).where(m.Finding.status == "open")
            .group_by(m.Finding.owner)) if owner}
    return [
        {"name": name, "contact": contact,
         **{key: per_team.get(name, 0) for key, per_team in counts.items()}}
        for name, contact in session.execute(select(m.Team.name, m.Team.contact)
                                             .order_by(m.Team.name))
    ]
