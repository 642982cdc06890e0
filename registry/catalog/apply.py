"""Execute a Plan inside the caller's transaction, with audit events and a change set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Insert,
    Integer,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
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
from registry.store import catalog_models as m

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

# Rows written by a change set take its time from its row, copied by the database: a datetime
# bound in every row of a batch is converted for the driver once per row (DateTime to text on
# SQLite: about 50 of 460 ms of a first apply of 10,000 features). Every value of these INSERTs
# is bound per row, the change set id too ("changeset"): a value fixed in a cached statement is
# looked up again for each row of an executemany, which costs more than binding it.
CHANGESET = bindparam("changeset", type_=Integer)
STAMP = select(CHANGE_SET.c.created_at).where(CHANGE_SET.c.id == CHANGESET).scalar_subquery()


def _json(name: str) -> ColumnElement[Any]:
    """The JSON value bound per row as `name`, None written as JSON null (never SQL NULL) as
    the JSON column writes it, but without serialising None for each row (about 20 ms of a
    first apply of 10,000 features: the audit's `before`, the features' `expect`)."""
    return func.coalesce(bindparam(name, type_=JSON(none_as_null=True)),
                         literal_column("'null'", JSON))


INSERTS: dict[str, Insert] = {k: insert(t).values(registered_at=STAMP) for k, t in TABLES.items()}
INSERTS["sources"] = INSERTS["sources"].values(openlineage=_json("openlineage"))
INSERTS["features"] = INSERTS["features"].values(
    changeset_id=CHANGESET, expect=_json("expect"),
    created=func.coalesce(bindparam("created", type_=FEATURE.c.created.type), STAMP))
INSERT_AUDIT = insert(AUDIT_EVENT).values(changeset_id=CHANGESET, ts=STAMP,
                                          before=_json("before"), after=_json("after"))


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


def _dt(value: str | None, default: datetime | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else default


def _row(kind: str, f: Fields, team_ids: dict[str, int], now: datetime | None) -> dict[str, Any]:
    """Scalar columns of one object (references to not-yet-known ids are set afterwards); a
    feature's `created` is `now` when the spec has none (None: the INSERT's stamp)."""
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


def _by_action(plan: Plan) -> dict[str, dict[str, list[ObjectChange]]]:
    """The plan's changes by action ("live": created or updated) and kind, in plan order: one
    pass over the plan instead of one per kind and action."""
    todo: dict[str, dict[str, list[ObjectChange]]] = {
        action: {kind: [] for kind in TABLES} for action in ("create", "update", "delete", "live")}
    for ch in plan.changes:
        todo[ch.action][ch.kind].append(ch)
        if ch.action != "delete":
            todo["live"][ch.kind].append(ch)
    return todo


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
    todo = _by_action(plan)
    inserted = cast("CursorResult[Any]", session.execute(insert(CHANGE_SET).values(
        kind=kind, actor=actor, created_at=now, label=label,
        features_added=len(todo["create"]["features"]))))
    changeset_id: int = inserted.inserted_primary_key[0]  # type: ignore[index]

    named = _named(plan)
    ids = {k: _ids(session, k, named[k]) for k in TABLES}
    for k in ("teams", "sources", "features", "consumers"):
        created = todo["create"][k]
        rows = [{"name": ch.name, "changeset": changeset_id,
                 **_row(k, ch.after or {}, ids["teams"], None)} for ch in created]
        for chunk in chunks(rows, CHUNK):
            session.execute(INSERTS[k], chunk)
        _update_by_id(session, TABLES[k],
                      [{"id": ids[k][ch.name], **_row(k, ch.after or {}, ids["teams"], now)}
                       for ch in todo["update"][k]])
        if created:  # the ids of the objects created now
            ids[k].update(_ids(session, k, {ch.name for ch in created}))

    _write_edges(session, todo["live"], ids)
    _delete(session, todo["delete"], ids)
    _audit(session, plan, changeset_id, actor)
    # OpenLineage runs of a job (or of its parent) registered now count for it from now on
    created_consumers = [ch.name for ch in todo["create"]["consumers"]]
    if created_consumers:  # the evidence modules are loaded only when there is work for them
        from registry.evidence.openlineage import reattribute_runs

        reattribute_runs(session, created_consumers, now=now)
    return changeset_id


def _changed(live: list[ObjectChange], fld: str) -> list[ObjectChange]:
    """The objects (created or updated) whose field `fld` is written now."""
    return [ch for ch in live
            if ch.action == "create" or any(c.field == fld for c in ch.changes)]


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


def _write_edges(session: Session, live: dict[str, list[ObjectChange]],
                 ids: dict[str, dict[str, int]]) -> None:
    fid, sid, cid = ids["features"], ids["sources"], ids["consumers"]
    specs = [
        ("sources", FEATURE_SOURCE, "source_id", sid),
        ("depends_on", FEATURE_DEPENDENCY, "depends_on_id", fid),
    ]
    for fld, table, other_col, other_ids in specs:
        changed = _changed(live["features"], fld)
        pairs = [{"feature_id": fid[ch.name], other_col: other_ids[n]}
                 for ch in changed for n in (ch.after or {})[fld]]
        _replace_edges(session, table, "feature_id", other_col, _updated_ids(changed, fid),
                       pairs)
    changed = _changed(live["features"], "tags")
    _replace_edges(session, FEATURE_TAG, "feature_id", "tag", _updated_ids(changed, fid),
                   [{"feature_id": fid[ch.name], "tag": t} for ch in changed
                    for t in (ch.after or {})["tags"]])
    changed = _changed(live["consumers"], "features")
    _replace_edges(session, CONSUMER_FEATURE, "consumer_id", "feature_id",
                   _updated_ids(changed, cid),
                   [{"consumer_id": cid[ch.name], "feature_id": fid[n]} for ch in changed
                    for n in (ch.after or {})["features"]])
    producers = [{"id": sid[ch.name],
                  "produced_by_id": cid.get((ch.after or {})["produced_by"] or "")}
                 for ch in _changed(live["sources"], "produced_by")
                 if ch.action == "update" or (ch.after or {})["produced_by"]]
    _update_by_id(session, SOURCE, producers)
    replacements = [{"id": fid[ch.name],
                     "replacement_id": fid.get((ch.after or {})["replacement"] or "")}
                    for ch in _changed(live["features"], "replacement")
                    if ch.action == "update" or (ch.after or {})["replacement"]]
    _update_by_id(session, FEATURE, replacements)


def _delete(session: Session, deleted: dict[str, list[ObjectChange]],
            ids: dict[str, dict[str, int]]) -> None:
    doomed = {k: [ids[k][ch.name] for ch in deleted[k]] for k in TABLES}
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


def _audit(session: Session, plan: Plan, changeset_id: int, actor: str) -> None:
    rows = []
    for ch in plan.changes:
        before, after = ch.before, ch.after
        if ch.action == "update":
            keys = [c.field for c in ch.changes]
            before = {k: (ch.before or {}).get(k) for k in keys}
            after = {k: (ch.after or {}).get(k) for k in keys}
        rows.append({"changeset": changeset_id, "actor": actor, "action": ch.action,
                     "object_type": ch.object_type, "object_name": ch.name, "before": before,
                     "after": after})
    for chunk in chunks(rows, CHUNK):
        session.execute(INSERT_AUDIT, chunk)
