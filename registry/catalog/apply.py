"""Execute a Plan inside the caller's transaction, with audit events and a change set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from registry.catalog.plan import ObjectChange, Plan
from registry.catalog.state import (
    CONSUMER,
    CONSUMER_FEATURE,
    FEATURE,
    FEATURE_DEPENDENCY,
    FEATURE_SOURCE,
    FEATURE_TAG,
    SOURCE,
    TEAM,
    Fields,
)
from registry.core.batches import chunks
from registry.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

# Statements on the tables (SQLAlchemy Core), not the mapped classes: every row of a batch has
# the same keys (the column names), so the ORM's bulk insert would only sort them again (a third
# of the time of a first apply of 10,000 features), and a statement on a mapped class first
# configures every mapper of the schema (a twentieth of a small apply).
TABLES: dict[str, Table] = {"teams": TEAM, "sources": SOURCE, "features": FEATURE,
                            "consumers": CONSUMER}
CHANGE_SET = cast(Table, m.ChangeSet.__table__)
AUDIT_EVENT = cast(Table, m.AuditEvent.__table__)
CHUNK = 2000  # rows per insert or update batch (IN lists use batches.IN_LIST)
NAMED_ID_LIMIT = 5000  # more names than this: read every id of the table at once


def _update_by_id(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows by primary key: each row is {"id": ..., column: new value, ...} with the
    same columns (what the ORM's bulk update by primary key does, without the ORM)."""
    if not rows:
        return
    statement = update(table).where(table.c.id == bindparam("row_id"))
    for chunk in chunks(rows, CHUNK):
        session.execute(statement, [{"row_id": row["id"], **{k: v for k, v in row.items()
                                                             if k != "id"}} for row in chunk])


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _dt(value: str | None, default: datetime) -> datetime:
    return datetime.fromisoformat(value) if value else default


def _row(kind: str, f: Fields, team_ids: dict[str, int], now: datetime) -> dict[str, Any]:
    """Scalar columns of one object (references to not-yet-known ids are set afterwards)."""
    if kind == "teams":
        return {"contact": f["contact"], "description": f["description"]}
    row: dict[str, Any] = {"owner_id": team_ids[f["owner"]], "description": f["description"],
                           "kind": f.get("kind")}
    if kind == "sources":
        row["freshness"] = f["freshness"]
        row["readiness"] = f.get("readiness")
        row["openlineage"] = f.get("openlineage")
    elif kind == "consumers":
        row["version"] = f["version"]
        row["stage"] = f.get("stage") or "development"
    elif kind == "features":
        del row["kind"]
        row.update(dtype=f["dtype"], bundle=f["bundle"], status=f["status"],
                   sunset=_date(f["sunset"]), deprecation_reason=f["reason"], cost=f["cost"],
                   created=_dt(f["created"], now), expect=f.get("expect"))
    return row


def _ids(session: Session, kind: str, names: set[str]) -> dict[str, int]:
    """Ids of the named objects of a kind (read all at once when they are many)."""
    table = TABLES[kind]
    query = select(table.c.id, table.c.name)
    if len(names) > NAMED_ID_LIMIT:
        return {name: id_ for id_, name in session.execute(query)}
    ids: dict[str, int] = {}
    for chunk in chunks(sorted(names)):
        ids.update({name: id_ for id_, name in session.execute(query.where(
            table.c.name.in_(chunk)))})
    return ids


def _named(plan: Plan) -> dict[str, set[str]]:
    """Every object a plan writes or refers to, by kind: the ids apply_plan needs."""
    named: dict[str, set[str]] = {kind: set() for kind in TABLES}
    for ch in plan.changes:
        named[ch.kind].add(ch.name)
        after = ch.after or {}
        if ch.action == "delete":
            continue
        if ch.kind != "teams":
            named["teams"].add(after["owner"])
        if ch.kind == "features":
            named["sources"].update(after["sources"])
            named["features"].update(after["depends_on"])
            if after["replacement"]:
                named["features"].add(after["replacement"])
        elif ch.kind == "consumers":
            named["features"].update(after["features"])
        elif ch.kind == "sources" and after["produced_by"]:
            named["consumers"].add(after["produced_by"])
    return named


def apply_plan(
    session: Session, plan: Plan, *, actor: str, kind: str = "apply", label: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Write the plan; returns the change set id (None when there is nothing to do)."""
    if plan.is_empty():
        return None
    now = now or datetime.now(UTC)
    creates = plan.of("create", "features")
    inserted = cast("CursorResult[Any]", session.execute(insert(CHANGE_SET).values(
        kind=kind, actor=actor, created_at=now, label=label, features_added=len(creates))))
    changeset_id: int = inserted.inserted_primary_key[0]  # type: ignore[index]

    named = _named(plan)
    ids = {k: _ids(session, k, named[k]) for k in TABLES}
    for k in ("teams", "sources", "features", "consumers"):
        rows = []
        for ch in plan.of("create", k):
            row = {"name": ch.name, "registered_at": now, **_row(k, ch.after or {}, ids["teams"],
                                                                   now)}
            if k == "features":
                row["changeset_id"] = changeset_id
            rows.append(row)
        for chunk in chunks(rows, CHUNK):
            session.execute(insert(TABLES[k]), chunk)
        _update_by_id(session, TABLES[k],
                      [{"id": ids[k][ch.name], **_row(k, ch.after or {}, ids["teams"], now)}
                       for ch in plan.of("update", k)])
        if rows:
            ids[k] = _ids(session, k, named[k])

    _write_edges(session, plan, ids)
    _delete(session, plan, ids)
    _audit(session, plan, changeset_id, actor, now)
    # OpenLineage runs of a job (or of its parent) registered now count for it from now on
    created_consumers = [ch.name for ch in plan.of("create", "consumers")]
    if created_consumers:  # the evidence modules are loaded only when there is work for them
        from registry.evidence.openlineage import reattribute_runs

        reattribute_runs(session, created_consumers, now=now)
    return changeset_id


def _changed(plan: Plan, kind: str, fld: str) -> list[ObjectChange]:
    out = []
    for ch in plan.changes:
        if ch.kind != kind or ch.action == "delete":
            continue
        if ch.action == "create" or any(c.field == fld for c in ch.changes):
            out.append(ch)
    return out


def _replace_edges(session: Session, table: Table, owner_col: str, other_col: str,
                   owner_ids: list[int], pairs: list[dict[str, Any]]) -> None:
    for ids in chunks(owner_ids):
        session.execute(delete(table).where(table.c[owner_col].in_(ids)))
    for batch in chunks(pairs, CHUNK):
        session.execute(insert(table), batch)


def _updated_ids(changed: list[ObjectChange], ids: dict[str, int]) -> list[int]:
    """Ids of the updated objects among `changed`: only they can have edges to replace (an
    object created now has none yet, so its edges are only inserted)."""
    return [ids[ch.name] for ch in changed if ch.action == "update"]


def _write_edges(session: Session, plan: Plan, ids: dict[str, dict[str, int]]) -> None:
    fid, sid, cid = ids["features"], ids["sources"], ids["consumers"]
    specs = [
        ("sources", FEATURE_SOURCE, "source_id", sid),
        ("depends_on", FEATURE_DEPENDENCY, "depends_on_id", fid),
    ]
    for fld, table, other_col, other_ids in specs:
        changed = _changed(plan, "features", fld)
        pairs = [{"feature_id": fid[ch.name], other_col: other_ids[n]}
                 for ch in changed for n in (ch.after or {})[fld]]
        _replace_edges(session, table, "feature_id", other_col, _updated_ids(changed, fid),
                       pairs)
    changed = _changed(plan, "features", "tags")
    _replace_edges(session, FEATURE_TAG, "feature_id", "tag", _updated_ids(changed, fid),
                   [{"feature_id": fid[ch.name], "tag": t} for ch in changed
                    for t in (ch.after or {})["tags"]])
    changed = _changed(plan, "consumers", "features")
    _replace_edges(session, CONSUMER_FEATURE, "consumer_id", "feature_id",
                   _updated_ids(changed, cid),
                   [{"consumer_id": cid[ch.name], "feature_id": fid[n]} for ch in changed
                    for n in (ch.after or {})["features"]])
    producers = [{"id": sid[ch.name],
                  "produced_by_id": cid.get((ch.after or {})["produced_by"] or "")}
                 for ch in _changed(plan, "sources", "produced_by")
                 if ch.action == "update" or (ch.after or {})["produced_by"]]
    _update_by_id(session, SOURCE, producers)
    replacements = [{"id": fid[ch.name],
                     "replacement_id": fid.get((ch.after or {})["replacement"] or "")}
                    for ch in _changed(plan, "features", "replacement")
                    if ch.action == "update" or (ch.after or {})["replacement"]]
    _update_by_id(session, FEATURE, replacements)


def _delete(session: Session, plan: Plan, ids: dict[str, dict[str, int]]) -> None:
    doomed = {k: [ids[k][ch.name] for ch in plan.of("delete", k)] for k in TABLES}
    for chunk in chunks(doomed["consumers"]):
        session.execute(update(SOURCE).where(SOURCE.c.produced_by_id.in_(chunk))
                        .values(produced_by_id=None))
    for chunk in chunks(doomed["features"]):
        session.execute(update(FEATURE).where(FEATURE.c.replacement_id.in_(chunk))
                        .values(replacement_id=None))
    edge_tables: dict[str, list[tuple[Table, str]]] = {
        "consumers": [(CONSUMER_FEATURE, "consumer_id")],
        "features": [(CONSUMER_FEATURE, "feature_id"), (FEATURE_SOURCE, "feature_id"),
                     (FEATURE_DEPENDENCY, "feature_id"), (FEATURE_DEPENDENCY, "depends_on_id"),
                     (FEATURE_TAG, "feature_id")],
        "sources": [(FEATURE_SOURCE, "source_id")],
        "teams": [],
    }
    for k in ("consumers", "features", "sources", "teams"):
        for chunk in chunks(doomed[k]):
            for table, col in edge_tables[k]:
                session.execute(delete(table).where(table.c[col].in_(chunk)))
            session.execute(delete(TABLES[k]).where(TABLES[k].c.id.in_(chunk)))


def _audit(session: Session, plan: Plan, changeset_id: int, actor: str, now: datetime) -> None:
    rows = []
    for ch in plan.changes:
        before, after = ch.before, ch.after
        if ch.action == "update":
            keys = [c.field for c in ch.changes]
            before = {k: (ch.before or {}).get(k) for k in keys}
            after = {k: (ch.after or {}).get(k) for k in keys}
        rows.append({"changeset_id": changeset_id, "ts": now, "actor": actor,
                     "action": ch.action, "object_type": ch.object_type,
                     "object_name": ch.name, "before": before, "after": after})
    for chunk in chunks(rows, CHUNK):
        session.execute(insert(AUDIT_EVENT), chunk)
