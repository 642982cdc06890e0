"""The findings lifecycle: open → acknowledged | suppressed (until a date) → resolved.

A finding's identity is its fingerprint (kind + subject + related), so one that persists across
analysis runs keeps its id, first_seen and status; one whose condition clears is resolved, and
reopens (same id) if it comes back. Suppressions last until they expire.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.errors import FeatregError, NotFound
from registry.store import models as m

if TYPE_CHECKING:
    from registry.analysis.inputs import FindingDraft

STATUSES = ("open", "acknowledged", "suppressed", "resolved")
ACTIVE = ("open", "acknowledged", "suppressed")


@dataclass
class RunSummary:
    """Counts per kind of what one analysis run did to the findings."""

    new: Counter[str] = field(default_factory=Counter)
    still_open: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, dict[str, int]]:
        kinds = sorted(set(self.new) | set(self.still_open) | set(self.resolved))
        return {k: {"new": self.new[k], "still_open": self.still_open[k],
                    "resolved": self.resolved[k]} for k in kinds}


def record_findings(
    session: Session, drafts: Iterable[FindingDraft], *, run: m.AnalysisRun, now: datetime,
    owners: Mapping[tuple[str, str], str | None],
) -> RunSummary:
    """Merge one run's drafts into the stored findings (in the caller's transaction)."""
    stored = {f.fingerprint: f for f in session.scalars(select(m.Finding))}
    summary = RunSummary()
    seen: set[str] = set()
    for draft in drafts:
        fp = draft.fingerprint
        if fp in seen:
            continue
        seen.add(fp)
        finding = stored.get(fp)
        values: dict[str, Any] = {
            "severity": draft.severity, "summary": draft.summary, "evidence": draft.evidence,
            "related": [{"type": t, "name": n} for t, n in draft.related],
            "owner": owners.get(draft.subject), "last_seen": now, "last_run_id": run.id,
        }
        if finding is None:
            session.add(m.Finding(
                fingerprint=fp, kind=draft.kind, subject_type=draft.subject_type,
                subject_name=draft.subject_name, status="open", first_seen=now, **values))
            summary.new[draft.kind] += 1
            continue
        for key, value in values.items():
            setattr(finding, key, value)
        if finding.status == "resolved":
            finding.status, finding.resolved_at, finding.status_reason = "open", None, None
            summary.new[draft.kind] += 1
            continue
        if finding.status == "suppressed" and finding.suppressed_until is not None \
                and finding.suppressed_until <= now:
            finding.status, finding.suppressed_until = "open", None
            finding.status_reason = "suppression expired"
        summary.still_open[draft.kind] += 1
    for fp, finding in stored.items():
        if fp not in seen and finding.status in ACTIVE:
            finding.status, finding.resolved_at = "resolved", now
            summary.resolved[finding.kind] += 1
    return summary


def list_findings(
    session: Session, *, kind: str | None = None, status: str | None = None,
    owner: str | None = None, subject: str | None = None, include_resolved: bool = False,
) -> list[m.Finding]:
    query = select(m.Finding).order_by(m.Finding.kind, m.Finding.subject_name, m.Finding.id)
    if kind:
        query = query.where(m.Finding.kind == kind)
    if status:
        query = query.where(m.Finding.status == status)
    elif not include_resolved:
        query = query.where(m.Finding.status != "resolved")
    if owner:
        query = query.where(m.Finding.owner == owner)
    if subject:
        query = query.where(m.Finding.subject_name == subject)
    return list(session.scalars(query))


def get_finding(session: Session, finding_id: int) -> m.Finding:
    finding = session.get(m.Finding, finding_id)
    if finding is None:
        raise NotFound(f"no finding with id {finding_id}")
    return finding


def set_status(
    session: Session, finding_id: int, *, status: str, reason: str, actor: str, now: datetime,
    until: datetime | None = None,
) -> m.Finding:
    """Acknowledge, suppress (optionally until a date) or reopen a finding, with an audit event."""
    if status not in ("acknowledged", "suppressed", "open"):
        raise FeatregError(f"cannot set a finding to {status!r}")
    if not reason.strip():
        raise FeatregError("give a --reason: the next person will want to know why")
    finding = get_finding(session, finding_id)
    if finding.status == "resolved":
        raise FeatregError(f"finding {finding_id} is resolved; nothing to {status}")
    before = {"status": finding.status, "reason": finding.status_reason,
              "until": finding.suppressed_until.isoformat() if finding.suppressed_until else None}
    finding.status, finding.status_reason = status, reason
    finding.suppressed_until = until if status == "suppressed" else None
    after = {"status": status, "reason": reason, "until": until.isoformat() if until else None}
    session.add(m.AuditEvent(ts=now, actor=actor, action=status, object_type="finding",
                             object_name=str(finding_id), before=before, after=after))
    return finding


def finding_to_dict(f: m.Finding | Any) -> dict[str, Any]:
    """The JSON shape of DESIGN.md (of an ORM object or a row of the table's columns)."""
    return {
        "id": f.id, "kind": f.kind,
        "subject": {"type": f.subject_type, "name": f.subject_name},
        "related": f.related, "severity": f.severity, "status": f.status,
        "summary": f.summary, "evidence": f.evidence,
        "first_seen": f.first_seen.isoformat(), "last_seen": f.last_seen.isoformat(),
        "owner": f.owner, "fingerprint": f.fingerprint,
        "status_reason": f.status_reason,
        "suppressed_until": f.suppressed_until.isoformat() if f.suppressed_until else None,
        "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
    }
