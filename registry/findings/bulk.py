"""Acknowledge, suppress or reopen many findings at once, with one reason: all or none.

Every finding is checked (it exists, it is not resolved, the caller may act on it) before any
is changed; each change is audited like a single one (`records.set_status`). The caller's
unit of work commits them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, NotFound, Problem
from registry.findings.records import set_status
from registry.store import models as m

MAX_BULK = 1000
ACTION_STATUS = {"ack": "acknowledged", "acknowledge": "acknowledged",
                 "suppress": "suppressed", "reopen": "open"}


def parse_ids(raw: Iterable[object]) -> list[int]:
    """Finding ids from a form or a JSON body, each a positive integer, at most MAX_BULK."""
    ids: list[int] = []
    problems = []
    for position, value in enumerate(raw, start=1):
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 2**62:
            problems.append(Problem(f"{value!r} is not a finding id", field=f"ids[{position}]"))
        else:
            ids.append(int(text))
    if problems:
        raise InvalidInput(problems)
    if not ids:
        raise InvalidInput([Problem("choose at least one finding", field="ids")])
    if len(ids) > MAX_BULK:
        raise InvalidInput([Problem(f"at most {MAX_BULK} findings at once ({len(ids)} given)",
                                    field="ids")])
    return sorted(set(ids))


def set_status_many(session: Session, ids: list[int], *, action: str, reason: str, actor: str,
                    now: datetime, until: datetime | None = None,
                    check: Callable[[m.Finding], None] | None = None) -> list[m.Finding]:
    """Change the status of every finding in `ids`, or of none (an unknown action or id, a
    missing reason, a resolved finding, or one `check` refuses stops the whole change)."""
    status = ACTION_STATUS.get(action)
    if status is None:
        raise InvalidInput([Problem("action must be acknowledge, suppress or reopen",
                                    field="action")])
    if not reason.strip():
        raise InvalidInput([Problem("give a reason: the next person will want to know why",
                                    field="reason")])
    found = {f.id: f for f in session.scalars(select(m.Finding).where(m.Finding.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no finding with id {', '.join(map(str, missing))}")
    resolved = [i for i in ids if found[i].status == "resolved"]
    if resolved:
        raise InvalidInput([Problem(f"finding {i} is resolved; nothing to {action}",
                                    field="ids") for i in resolved])
    for finding_id in ids:
        if check is not None:
            check(found[finding_id])
    return [set_status(session, i, status=status, reason=reason, actor=actor, now=now,
                       until=until) for i in ids]
