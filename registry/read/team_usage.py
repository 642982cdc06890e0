"""Who reads a team's features without declaring them: for the team page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.read.common import iso
from registry.store import models as m

UNDECLARED_LIMIT = 200


def undeclared_reads(session: Session, team: str, *, limit: int = UNDECLARED_LIMIT
                     ) -> dict[str, Any]:
    """Each (principal, feature of `team`) pair with reads where the principal does not
    declare the feature (an unregistered reader, or a consumer that never declared it): its
    reads and last read, most recent first, at most `limit` (`total` counts them all)."""
    owned = (select(m.Feature.name).join(m.Team, m.Team.id == m.Feature.owner_id)
             .where(m.Team.name == team))
    declared = set(session.execute(
        select(m.Consumer.name, m.Feature.name)
        .join(m.ConsumerFeature, m.ConsumerFeature.consumer_id == m.Consumer.id)
        .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
        .join(m.Team, m.Team.id == m.Feature.owner_id).where(m.Team.name == team)).all())
    registered = set(session.scalars(select(m.Consumer.name)))
    U = m.UsageDaily
    last = func.max(U.last_read)
    pairs = session.execute(
        select(U.principal, U.feature, func.sum(U.reads), last)
        .where(U.feature.in_(owned)).group_by(U.principal, U.feature)
        .order_by(last.desc(), U.principal, U.feature)).all()
    rows = [{"principal": principal, "feature": feature, "reads": int(reads or 0),
             "last_read": iso(last_read), "registered": principal in registered}
            for principal, feature, reads, last_read in pairs
            if (principal, feature) not in declared]
    return {"total": len(rows), "items": rows[:limit],
            "readers": len({r["principal"] for r in rows})}
