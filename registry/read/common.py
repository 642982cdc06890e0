"""Small helpers shared by the read-side query services (`registry.read`).

Query services return plain, JSON-ready values (dicts, lists, ISO strings): the web pages
render them and the JSON API returns them unchanged, so the two can never disagree.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Integer, Result, String, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TypedReturnsRows

from registry.core.batches import chunks
from registry.findings.records import finding_to_dict
from registry.store import models as m

RowTypes = TypeVarTuple("RowTypes")
ACTIVE_STATUSES = ("open", "acknowledged", "suppressed")


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run(session: Session, statement: TypedReturnsRows[*RowTypes],
        params: Mapping[str, Any] | None = None) -> Result[*RowTypes]:
    """Execute a column query on the session's connection: the same transaction as the
    session, without the ORM's per-statement overhead (these queries load no ORM objects)."""
    return session.connection().execute(statement, dict(params or {}))


@dataclass(frozen=True)
class Pagination:
    """Where one page sits in a list: 1-based page number, page size, total rows."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "per_page": self.per_page, "total": self.total,
                "pages": self.pages, "has_previous": self.page > 1,
                "has_next": self.page < self.pages}


def clamp_int(raw: Any, default: int, low: int, high: int) -> int:
    """An integer from user input, clamped to [low, high]; the default when unparseable."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return max(low, min(high, value))


def audit_to_dict(event: m.AuditEvent | Any) -> dict[str, Any]:
    """An audit event (an ORM object or a row of the table's columns) as JSON."""
    return {"id": event.id, "ts": iso(event.ts), "actor": event.actor, "action": event.action,
            "type": event.object_type, "name": event.object_name, "before": event.before,
            "after": event.after, "changed": _changed_fields(event.before, event.after)}


def _changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
                    ) -> list[str]:
    keys = set(before or {}) | set(after or {})
    return sorted(k for k in keys if (before or {}).get(k) != (after or {}).get(k))


AUDIT = m.AuditEvent.__table__
FINDINGS = m.Finding.__table__
"""Pages select these tables' columns, not ORM objects: a page only reads the rows, and
loading them into the session cost a third of each such query's time."""
OBJECT_HISTORY = (
    select(AUDIT)
    .where(m.AuditEvent.object_type == bindparam("type", type_=String),
           m.AuditEvent.object_name == bindparam("name", type_=String))
    .order_by(m.AuditEvent.ts.desc(), m.AuditEvent.id.desc())
    .limit(bindparam("limit", type_=Integer)))
"""Statements a page runs on every view are built once, with parameters (building and
keying a new SQL expression per request cost milliseconds a page)."""
_SUBJECT = select(FINDINGS).where(m.Finding.subject_type == bindparam("type", type_=String),
                                   m.Finding.subject_name == bindparam("name", type_=String))
SUBJECT_FINDINGS = {True: _SUBJECT,
                    False: _SUBJECT.where(m.Finding.status.in_(ACTIVE_STATUSES))}
TAGS = (select(m.FeatureTag.feature_id, m.FeatureTag.tag)
        .where(m.FeatureTag.feature_id.in_(bindparam("ids", type_=Integer, expanding=True)))
        .order_by(m.FeatureTag.tag))


def object_history(session: Session, object_type: str, name: str, limit: int = 50
                   ) -> list[dict[str, Any]]:
    return [audit_to_dict(e) for e in run(
        session, OBJECT_HISTORY, {"type": object_type, "name": name, "limit": limit})]


def subject_findings(session: Session, subject_type: str, name: str, *,
                     include_resolved: bool = False) -> list[dict[str, Any]]:
    """Findings about one object, most severe first."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = sorted(run(session, SUBJECT_FINDINGS[include_resolved],
                      {"type": subject_type, "name": name}),
                  key=lambda f: (rank.get(f.severity, 3), f.kind, f.id))
    return [finding_to_dict(f) for f in rows]


def active_finding_kinds(session: Session, subject_type: str, names: Iterable[str]
                         ) -> dict[str, list[str]]:
    """Kinds of the active findings about each named object (sorted, no duplicates)."""
    wanted = sorted(set(names))
    kinds: dict[str, set[str]] = defaultdict(set)
    for part in chunks(wanted):
        for subject, kind in run(session,
            select(m.Finding.subject_name, m.Finding.kind).where(
                m.Finding.subject_type == subject_type, m.Finding.subject_name.in_(part),
                m.Finding.status.in_(ACTIVE_STATUSES))
        ):
            kinds[subject].add(kind)
    return {name: sorted(k) for name, k in kinds.items()}


def tags_of(session: Session, feature_ids: Iterable[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    for part in chunks(sorted(set(feature_ids))):
        for fid, tag in run(session, TAGS, {"ids": part}):
            tags[fid].append(tag)
    return dict(tags)


_LINES = re.compile("[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")  # str.splitlines' breaks


def first_line(text: str, limit: int = 500) -> str:
    """The first non-empty line of a Markdown text, without leading '#' marks, shortened to
    `limit` characters (pages shorten its text further once the Markdown is rendered)."""
    for match in _LINES.finditer(text or ""):  # (lazily: documents can be long)
        line = match.group().strip().lstrip("#").strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""
