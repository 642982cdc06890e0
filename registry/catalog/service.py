"""Catalog services: plan/apply, register, deprecate/retire, inspect, history.

Every service takes a Session; callers (CLI, SDK, web, scheduler) own the unit of work.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.catalog.apply import apply_plan
from registry.catalog.plan import Plan, make_plan
from registry.catalog.plan_scope import plan_scope
from registry.catalog.spec import KIND_SINGULAR, KINDS, Spec, validate_entry
from registry.catalog.state import load_state
from registry.core.batches import IN_LIST
from registry.core.errors import Conflict, InvalidInput, NotFound, Problem
from registry.store import catalog_models as m
from registry.store.savepoints import begin_for_savepoints


def resolve_actor(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if os.environ.get("FEATREG_ACTOR"):
        return os.environ["FEATREG_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


APPLY_ATTEMPTS = 3
MAX_SEARCH_CHARS = 500
"""Longest search text taken (a longer one is refused, not turned into a huge LIKE pattern)."""
SCOPED_SPEC_LIMIT = IN_LIST  # larger specs (a whole catalog's files) read the whole catalog
SCOPE_LIMIT = IN_LIST  # objects read by name, each kind in one SQL IN list


def plan_spec(session: Session, spec: Spec, *, prune: bool = False) -> Plan:
    """The plan of a spec against the stored catalog: read whole for a pruning plan or a
    large spec, else only the part the spec touches (see `registry.catalog.plan_scope`)."""
    if not prune and sum(len(spec.of(kind)) for kind in KINDS) <= SCOPED_SPEC_LIMIT:
        scope = plan_scope(session, spec)
        if sum(map(len, scope.values())) <= SCOPE_LIMIT:
            return make_plan(spec, load_state(session, only=scope), scoped=True)
    return make_plan(spec, load_state(session), prune=prune)


def apply_spec(
    session: Session, spec: Spec, *, actor: str, prune: bool = False, kind: str = "apply",
    label: str | None = None, now: datetime | None = None,
    check: Callable[[Plan], None] | None = None,
) -> tuple[Plan, int | None]:
    """Plan and apply in the caller's transaction; all or nothing. `check` sees the plan
    before anything is written (the web API refuses another team's objects there).

    When a concurrent apply creates the same objects between the plan and the writes (a
    unique-key conflict), the plan is made again in a SAVEPOINT and applied, up to
    `APPLY_ATTEMPTS` times in all; then it is a `Conflict` (run it again)."""
    begin_for_savepoints(session)
    for attempt in range(1, APPLY_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                plan = plan_spec(session, spec, prune=prune)
                if check is not None:
                    check(plan)
                changeset = apply_plan(session, plan, actor=actor, kind=kind, label=label,
                                       now=now)
                return plan, changeset
        except IntegrityError as exc:
            if attempt == APPLY_ATTEMPTS:
                raise Conflict("another apply changed the catalog at the same time; nothing "
                               "was applied: run it again") from exc
    raise AssertionError("unreachable")


def spec_from_entries(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> Spec:
    """Build a Spec from (kind, fields) pairs, validated exactly like YAML entries.

    Entry problems are kept on the spec, so `make_plan` reports them together with reference
    problems, as it does for files.
    """
    spec = Spec()
    for kind, data in entries:
        located, errs = validate_entry(kind, data)
        spec.problems.extend(errs)
        if located is None:
            if isinstance(data.get("name"), str):
                spec.invalid[kind].add(data["name"])
            continue
        if located.entry.name in spec.of(kind):
            spec.problems.append(
                Problem(f"duplicate {KIND_SINGULAR[kind]} {located.entry.name!r}"))
        spec.of(kind)[located.entry.name] = located
    return spec


def _feature_fields(session: Session, name: str) -> dict[str, Any]:
    state = load_state(session, only={"features": [name]})
    if name not in state.features:
        raise NotFound(f"no feature named {name!r}")
    fields = dict(state.features[name])
    fields["name"] = name
    return fields


def set_lifecycle(
    session: Session, name: str, *, status: str, actor: str, sunset: date | None = None,
    replacement: str | None = None, reason: str | None = None, now: datetime | None = None,
    check: Callable[[Plan], None] | None = None,
) -> Plan:
    """Deprecate, retire or reactivate a feature: an audited update through the same plan path."""
    fields = _feature_fields(session, name)
    if status == "active":
        fields.update(status="active", sunset=None, replacement=None, reason=None)
    else:
        fields["status"] = status
        if sunset is not None:
            fields["sunset"] = sunset.isoformat()
        elif status == "retired" and not fields.get("sunset"):
            fields["sunset"] = (now or datetime.now(UTC)).date().isoformat()
        if replacement is not None:
            fields["replacement"] = replacement
        if reason is not None:
            fields["reason"] = reason
    spec = spec_from_entries([("features", fields)])
    plan, _ = apply_spec(session, spec, actor=actor, kind="cli", label=f"{status} {name}",
                         now=now, check=check)
    return plan


def find_object(session: Session, name: str) -> tuple[str, dict[str, Any]]:
    state = load_state(session, only={kind: [name] for kind in KINDS})
    for kind in ("features", "sources", "consumers", "teams"):
        if name in state.of(kind):
            return kind, state.of(kind)[name]
    raise NotFound(f"no feature, source, consumer or team named {name!r}")


def list_features(
    session: Session, *, owner: str | None = None, status: str | None = None,
    search: str | None = None, tag: str | None = None, limit: int | None = None,
    offset: int = 0,
) -> list[m.Feature]:
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise InvalidInput([Problem(f"the search text has {len(search):,} characters; the "
                                    f"limit is {MAX_SEARCH_CHARS}", field="search")])
    query = select(m.Feature).join(m.Feature.owner).order_by(m.Feature.name)
    if owner:
        query = query.where(m.Team.name == owner)
    if status:
        query = query.where(m.Feature.status == status)
    if tag:
        query = query.where(m.Feature.id.in_(select(m.FeatureTag.feature_id)
                                             .where(m.FeatureTag.tag == tag)))
    if search:  # the catalog page's search: every word in the name, description or a tag
        from registry.catalog.search import feature_search_condition  # not on apply's path

        query = query.where(feature_search_condition(search))
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def history(session: Session, name: str | None = None, limit: int = 200) -> list[m.AuditEvent]:
    query = select(m.AuditEvent).order_by(m.AuditEvent.ts.desc(), m.AuditEvent.id.desc())
    if name:
        query = query.where(m.AuditEvent.object_name == name)
    return list(session.scalars(query.limit(limit)))


def catalog_counts(session: Session) -> dict[str, int]:
    tables = {"teams": m.Team, "sources": m.Source, "features": m.Feature,
              "consumers": m.Consumer}
    return {k: session.scalar(select(func.count()).select_from(t)) or 0
            for k, t in tables.items()}


__all__ = ["KINDS", "apply_spec", "plan_spec"]
