"""Who may change what (DESIGN.md "Access control").

A team token may change only what its team owns (features, sources, consumers, and its own
team entry), report usage and importance only for its own consumers, register snapshots only of
features it owns or its consumers declare, post OpenLineage only for jobs that are not another
team's registered consumers, and act only on findings about its own objects. An admin token may
do everything. Each check raises `Forbidden` naming the object and its owner, before anything
is stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.access.tokens import Identity
from registry.catalog.plan import Plan
from registry.core.batches import chunks
from registry.core.errors import Forbidden, Unauthenticated
from registry.store import models as m

__all__ = ["check_consumers", "check_finding", "check_openlineage_jobs", "check_owned",
           "check_plan", "check_snapshot_features", "require"]

Owned = type[m.Source] | type[m.Feature] | type[m.Consumer]
OWNED: dict[str, Owned] = {"source": m.Source, "feature": m.Feature, "consumer": m.Consumer}


def require(identity: Identity | None) -> Identity:
    """The caller's identity, or Unauthenticated (HTTP 401) when there is none."""
    if identity is None:
        raise Unauthenticated("this needs a token: send 'Authorization: Bearer <token>' "
                              "(create one with `featreg token create`)")
    return identity


def _refuse(identity: Identity, what: str, owner: str | None) -> Forbidden:
    owned = f"belongs to team {owner!r}" if owner else "belongs to no team"
    return Forbidden(f"{what} {owned}; the token {identity.name!r} of team {identity.team!r} "
                     "may change only its own team's objects")


def check_plan(identity: Identity, plan: Plan) -> None:
    """Every object the plan creates, updates or deletes must be the team's, before and after
    (an admin may apply anything). Creating or deleting a team needs an admin."""
    if identity.admin:
        return
    for change in plan.changes:
        what = f"{change.object_type} {change.name!r}"
        if change.kind == "teams":
            if change.action != "update" or change.name != identity.team:
                raise Forbidden(f"{change.action} of {what} needs an admin token")
            continue
        for fields in (change.before, change.after):
            if fields is not None and fields.get("owner") != identity.team:
                raise _refuse(identity, what, fields.get("owner"))


def _owners(session: Session, model: Owned, names: Iterable[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for batch in chunks(sorted(set(names))):
        rows = session.execute(select(model.name, m.Team.name)
                               .join(m.Team, m.Team.id == model.owner_id)
                               .where(model.name.in_(batch)))
        owners.update({name: team for name, team in rows})
    return owners


def check_owned(session: Session, identity: Identity, object_type: str, name: str) -> None:
    """A single stored object (deprecate, retire, register over an existing one)."""
    if identity.admin:
        return
    owner = _owners(session, OWNED[object_type], [name]).get(name)
    if owner is not None and owner != identity.team:
        raise _refuse(identity, f"{object_type} {name!r}", owner)


def check_consumers(session: Session, identity: Identity, consumers: Iterable[str]) -> None:
    """Usage and importance: every consumer must be a registered consumer of the team."""
    if identity.admin:
        return
    wanted = set(consumers)
    owners = _owners(session, m.Consumer, wanted)
    for name in sorted(wanted):
        owner = owners.get(name)
        if owner is None:
            raise Forbidden(f"consumer {name!r} is not registered: a team token reports usage "
                            "and importance only for its own registered consumers")
        if owner != identity.team:
            raise _refuse(identity, f"consumer {name!r}", owner)


def check_snapshot_features(session: Session, identity: Identity,
                            features: Iterable[str]) -> None:
    """Snapshots: their statistics become evidence about every feature column (drift, unit
    changes, expectations), so a team may register only columns of features it owns or that
    one of its consumers declares (a model's training sample holds other teams' features)."""
    if identity.admin:
        return
    wanted = set(features)
    owners = _owners(session, m.Feature, wanted)
    foreign = {name for name in wanted if owners.get(name) != identity.team}
    declared: set[str] = set()
    for batch in chunks(sorted(foreign)):
        declared.update(session.scalars(
            select(m.Feature.name)
            .join(m.ConsumerFeature, m.ConsumerFeature.feature_id == m.Feature.id)
            .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
            .join(m.Team, m.Team.id == m.Consumer.owner_id)
            .where(m.Feature.name.in_(batch), m.Team.name == identity.team)))
    refused = sorted(foreign - declared)
    if refused:
        shown = ", ".join(f"{name!r} ({owners.get(name) or 'no team'})" for name in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise Forbidden(f"the snapshot holds features {shown}{more} that team {identity.team!r} "
                        "neither owns nor declares in one of its consumers; the token "
                        f"{identity.name!r} may register statistics only for those")


def check_openlineage_jobs(session: Session, identity: Identity,
                           principals: Iterable[str]) -> None:
    """OpenLineage: a job that is another team's registered consumer is refused; jobs that
    are no registered consumer are the team's to report."""
    if identity.admin:
        return
    owners = _owners(session, m.Consumer, principals)
    for name, owner in sorted(owners.items()):
        if owner != identity.team:
            raise _refuse(identity, f"job {name!r} (a registered consumer)", owner)


def check_finding(session: Session, identity: Identity, finding: m.Finding) -> None:
    """Findings actions: the finding's subject must be the team's (an unregistered principal,
    which no team owns, needs an admin)."""
    if identity.admin:
        return
    model = OWNED.get(finding.subject_type)
    owner = _owners(session, model, [finding.subject_name]).get(finding.subject_name) \
        if model is not None else None
    if owner != identity.team:
        raise _refuse(identity, f"the finding about {finding.subject_type} "
                      f"{finding.subject_name!r}", owner)
