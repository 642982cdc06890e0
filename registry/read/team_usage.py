"""Who reads a team's features without declaring them: for the team page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, exists, func, select
from sqlalchemy.orm import Session

from registry.read.common import iso
from registry.store import models as m

UNDECLARED_LIMIT = 200


def undeclared_reads(session: Session, team: str, *, limit: int = UNDECLARED_LIMIT
                     ) -> dict[str, Any]:
    """Each (principal, feature of `team`) pair with reads where the principal does not
    declare the feature (an unregistered reader, or a consumer that never declared it): its
    reads and last read, most recent first, at most `limit` (`total` counts them all,
    `readers` the distinct principals)."""
    U = m.UsageDaily
    owned = (select(m.Feature.name).join(m.Team, m.Team.id == m.Feature.owner_id)
             .where(m.Team.name == team))
    declared = exists(
        select(m.ConsumerFeature.feature_id)
        .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
        .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
        .where(m.Consumer.name == U.principal, m.Feature.name == U.feature))
    last = func.max(U.last_read).label("last")
    pairs = (select(U.principal, U.feature, func.sum(U.reads).label("reads"), last)
             .where(U.feature.in_(owned), ~declared).group_by(U.principal, U.feature)
             .subquery())
    total, readers = session.execute(
        select(func.count(), func.count(distinct(pairs.c.principal))).select_from(pairs)).one()
    registered = exists(select(m.Consumer.id).where(m.Consumer.name == pairs.c.principal))
    rows = session.execute(
        select(pairs.c.principal, pairs.c.feature, pairs.c.reads, pairs.c.last, registered)
        .order_by(pairs.c.last.desc(), pairs.c.principal, pairs.c.feature).limit(limit))
    return {"total": int(total or 0), "readers": int(readers or 0),
            "items": [{"principal": principal, "feature": feature, "reads": int(reads or 0),
                       "last_read": iso(last_read), "registered": bool(is_registered)}
                      for principal, feature, reads, last_read, is_registered in rows]}
