"""The findings list: filtered (`lists.FindingsQuery`), sorted, paged, as cards or a table.

Severity first: critical, then warning, then info; within one severity the kinds someone must
act on come before clean-up candidates (an undeclared consumer before a legacy feature), then
by subject. Other orders: kind, subject, team, newest or oldest first seen, last seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, Problem
from registry.findings.records import finding_to_dict
from registry.read.common import ACTIVE_STATUSES, Pagination
from registry.read.lists import SEVERITIES, FindingsQuery
from registry.store import models as m

URGENCY = ("feedback_loop", "undeclared_consumer", "deprecated_in_use", "unstable_dependency",
           "stale_source", "unready_dependency", "correlated", "legacy", "bundled", "epsilon",
           "underutilized_source", "undocumented")
"""Kinds by how soon someone should act: risks to predictions first, clean-up last."""
SORTS = {"severity": "severity", "kind": "kind", "subject": "subject", "owner": "team",
         "-first_seen": "newest", "first_seen": "oldest", "-last_seen": "last seen"}
VIEWS = ("table", "cards")
TABLE_FROM = 8  # findings on a page from which the table is the default view


def parse_list_args(args: Mapping[str, Any]) -> tuple[FindingsQuery, str, str]:
    """Filters, sort and view from URL arguments (an unknown sort or view is a 400)."""
    query = FindingsQuery.from_args(args)
    sort = str(args.get("sort") or "severity")
    view = str(args.get("view") or "")
    problems = []
    if sort not in SORTS:
        problems.append(Problem(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}",
                                field="sort"))
    if view and view not in VIEWS:
        problems.append(Problem(f"unknown view {view!r}: use table or cards", field="view"))
    if problems:
        raise InvalidInput(problems)
    return query, sort, view


def _rank(column: Any, order: tuple[str, ...]) -> Any:
    return case({value: i for i, value in enumerate(order)}, value=column, else_=len(order))


def _order(sort: str) -> list[Any]:
    severity = _rank(m.Finding.severity, SEVERITIES)
    urgency = _rank(m.Finding.kind, URGENCY)
    keys = {"severity": [severity, urgency], "kind": [urgency, severity],
            "subject": [m.Finding.subject_name], "owner": [m.Finding.owner, severity],
            "-first_seen": [m.Finding.first_seen.desc()], "first_seen": [m.Finding.first_seen],
            "-last_seen": [m.Finding.last_seen.desc()]}[sort]
    return [*keys, m.Finding.subject_name, m.Finding.id]


def _conditions(q: FindingsQuery) -> list[Any]:
    statuses = {"all": None, "": ACTIVE_STATUSES}.get(q.status, (q.status,))
    where = [] if statuses is None else [m.Finding.status.in_(statuses)]
    filters = {m.Finding.kind: q.kind, m.Finding.owner: q.owner,
               m.Finding.severity: q.severity, m.Finding.subject_name: q.subject}
    return where + [column == value for column, value in filters.items() if value]


def findings_list(session: Session, q: FindingsQuery, *, sort: str = "severity",
                  view: str = "") -> dict[str, Any]:
    """One page of findings with counts by kind and severity, and the view to show them in
    (the table once a page holds TABLE_FROM findings or more, unless `view` says)."""
    where = _conditions(q)
    total = session.scalar(select(func.count()).select_from(m.Finding).where(*where)) or 0
    pages = Pagination(1, q.per_page, total).pages
    pagination = Pagination(min(q.page, pages), q.per_page, total)
    rows = session.scalars(select(m.Finding).where(*where).order_by(*_order(sort))
                           .offset(pagination.offset).limit(q.per_page))
    items = [finding_to_dict(f) for f in rows]
    by_kind = dict(session.execute(select(m.Finding.kind, func.count()).where(*where)
                                   .group_by(m.Finding.kind)).all())
    by_severity = dict(session.execute(select(m.Finding.severity, func.count()).where(*where)
                                       .group_by(m.Finding.severity)).all())
    ordered = [k for k in URGENCY if k in by_kind] + sorted(set(by_kind) - set(URGENCY))
    return {"query": asdict(q), "items": items, "pagination": pagination.to_dict(),
            "counts_by_kind": {k: by_kind[k] for k in ordered},
            "counts_by_severity": {s: by_severity[s] for s in SEVERITIES if s in by_severity},
            "sort": sort, "sorts": SORTS,
            "view": view or ("table" if len(items) >= TABLE_FROM else "cards")}
