"""The organisation-wide audit page: every recorded change, newest first, filtered by who
(the actor), what (object type, name, action) and when (a day range), paginated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, Problem
from registry.core.timeparse import InvalidTime, parse_day
from registry.read.browse import ListQuery, like_pattern, page_of
from registry.read.common import audit_to_dict
from registry.store import models as m

HISTORY_SORTS = {"-ts": "newest first", "ts": "oldest first"}
HISTORY_FILTERS = ("actor", "type", "name", "action", "since", "until")


def _day_bound(args: Mapping[str, str], key: str) -> datetime | None:
    raw = args.get(key)
    if not raw:
        return None
    try:
        day = parse_day(raw)
    except InvalidTime as exc:
        raise InvalidInput([Problem(f"{key!r} must be a date (YYYY-MM-DD), not {raw!r}",
                                    field=key)]) from exc
    start = datetime.combine(day, time(0, 0), tzinfo=UTC)
    if key == "until":
        return None if day == date.max else start + timedelta(days=1)  # up to the end of time
    return start


def history_page(session: Session, q: ListQuery,
                 choices: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Audit events matching the filters: `actor` (substring, any case), `type` (feature,
    source, consumer, team, finding...), `name` (substring), `action`, `since` and `until`
    (days, inclusive). Each event with its changed fields."""
    since, until = _day_bound(q.filters, "since"), _day_bound(q.filters, "until")
    A = m.AuditEvent
    where: list[Any] = []
    if actor := q.filters.get("actor"):
        where.append(func.lower(A.actor).like(like_pattern(actor), escape="\\"))
    if name := q.filters.get("name") or q.q:
        where.append(func.lower(A.object_name).like(like_pattern(name), escape="\\"))
    if kind := q.filters.get("type"):
        where.append(A.object_type == kind)
    if action := q.filters.get("action"):
        where.append(A.action == action)
    if since is not None:
        where.append(A.ts >= since)
    if until is not None:
        where.append(A.ts < until)
    total = session.scalar(select(func.count()).select_from(A).where(*where)) or 0
    pagination = page_of(q, total)
    order = [A.ts, A.id] if q.sort == "ts" else [A.ts.desc(), A.id.desc()]
    events = session.scalars(select(A).where(*where).order_by(*order)
                             .offset(pagination.offset).limit(q.per_page))
    return {"query": q.to_dict(), "items": [audit_to_dict(e) for e in events],
            "pagination": pagination.to_dict(), "sorts": HISTORY_SORTS,
            "choices": choices if choices is not None else history_choices(session)}


def latest_event(session: Session) -> int:
    """The id of the newest audit event (0: none): changes whenever the trail grows."""
    return session.scalar(select(func.max(m.AuditEvent.id))) or 0


def history_choices(session: Session) -> dict[str, list[str]]:
    """The object types and actions the audit trail holds (a pass over it: callers may keep
    the answer until the next change set)."""
    A = m.AuditEvent
    pairs = session.execute(select(A.object_type, A.action).distinct()).all()
    return {"type": sorted({t for t, _ in pairs}), "action": sorted({a for _, a in pairs})}
