"""Plans are values: what `apply` would create, update (field by field) and delete.

`make_plan` validates every reference against the files plus what is already stored, reports
every problem at once, and returns a `Plan` that tests can assert on and `apply_plan` executes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

from registry.catalog.spec import KIND_SINGULAR, KINDS, Located, Spec
from registry.catalog.state import CatalogState, Fields
from registry.core.errors import InvalidInput, Problem

STICKY_FEATURE_FIELDS = ("created", "status", "sunset", "replacement", "reason")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_short(self.old)} -> {_short(self.new)}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _short(value: Any) -> str:
    """A value on one line of a plan: line breaks and other control characters of untrusted
    text are shown as escapes (\\n, \\x1b), so a description cannot start a line of its own
    (a forged "+ feature ..." in a CI log) or send terminal escapes."""
    text = "∅" if value is None else (", ".join(map(str, value)) if isinstance(value, list)
                                      else str(value))
    if isinstance(value, list):
        text = f"[{text}]"
    text = _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ObjectChange:
    action: str  # create | update | delete
    kind: str  # teams | sources | features | consumers
    name: str
    changes: tuple[FieldChange, ...] = ()
    before: Fields | None = None
    after: Fields | None = None

    @property
    def object_type(self) -> str:
        return KIND_SINGULAR[self.kind]


@dataclass
class Plan:
    changes: list[ObjectChange] = field(default_factory=list)
    desired: dict[str, dict[str, Fields]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.changes

    def of(self, action: str, kind: str | None = None) -> list[ObjectChange]:
        return [c for c in self.changes if c.action == action and kind in (None, c.kind)]

    def counts(self) -> dict[str, int]:
        return {a: len(self.of(a)) for a in ("create", "update", "delete")}

    def summary(self) -> str:
        c = self.counts()
        if self.is_empty():
            return "No changes: the catalog already matches."
        return f"{c['create']} to create, {c['update']} to update, {c['delete']} to delete."


def _entry_fields(kind: str, entry: Any, stored: Fields | None) -> Fields:
    # what `entry.model_dump(exclude={"name"})` gives (the fields in their declared order),
    # without its per-entry cost: every nested value (model, list) is replaced or copied below
    data = dict(entry.__dict__)
    del data["name"]
    if kind == "features":
        data["created"] = data["created"].isoformat() if data["created"] else None
        data["sunset"] = data["sunset"].isoformat() if data["sunset"] else None
        data["sources"] = sorted(data["sources"])
        data["depends_on"] = sorted(data["depends_on"])
        data["tags"] = list(data["tags"])
        if data["status"] is None:  # lifecycle fields are kept unless the file sets a status
            for key in ("status", "sunset", "replacement", "reason"):
                data[key] = stored[key] if stored else None
            if not stored:
                data["status"] = "active"
        if data["created"] is None:
            data["created"] = stored["created"] if stored else None
        data["expect"] = entry.expect.as_fields() if entry.expect is not None else None
    elif kind == "sources":
        data["openlineage"] = entry.aliases()
    elif kind == "consumers":
        data["features"] = sorted(data["features"])
        data["produces"] = sorted(data["produces"])
    return data


def _desired_producers(
    spec: Spec, state: CatalogState, desired_sources: dict[str, Fields], problems: list[Problem]
) -> set[str]:
    """Settle each source's one producer; returns the model outputs left without one that were
    already reported (at the consumer that stopped producing them)."""
    orphans_reported: set[str] = set()
    claims: dict[str, list[tuple[str, Located | None]]] = {}
    for cname, claimer in spec.consumers.items():
        for sname in claimer.entry.produces:
            claims.setdefault(sname, []).append((cname, claimer))
    for sname, fields in desired_sources.items():
        producers: list[tuple[str, Located | None]] = []
        loc = spec.sources.get(sname)
        if loc is not None:
            if loc.entry.produced_by:
                producers.append((loc.entry.produced_by, loc))
        elif fields["produced_by"] and fields["produced_by"] not in spec.consumers:
            producers.append((fields["produced_by"], None))
        for claim in claims.get(sname, []):
            if claim[0] not in {p[0] for p in producers}:
                producers.append(claim)
        if len(producers) > 1:
            names = " and ".join(sorted(p[0] for p in producers))
            where = next((p[1] for p in producers if p[1] is not None), None)
            msg = f"source {sname!r} is produced by both {names}; a source has one producer"
            problems.append(where.problem(msg) if where else Problem(msg))
        fields["produced_by"] = producers[0][0] if producers else None
        stored = state.sources.get(sname, {}).get("produced_by")
        if (not producers and loc is None and fields["kind"] == "model_output"
                and stored in spec.consumers):
            problems.append(spec.consumers[stored].problem(
                f"consumer {stored!r} no longer produces the model_output source {sname!r}, "
                "which would have no producer: keep it in `produces`, or give the source "
                "another `produced_by`", "produces"))
            orphans_reported.add(sname)
    return orphans_reported


def make_plan(spec: Spec, state: CatalogState, *, prune: bool = False,
              scoped: bool = False) -> Plan:
    """Compare the spec with the stored state; raise InvalidInput listing every problem
    (those found while parsing, kept on the spec, and every reference problem).

    `scoped`: `state` holds only the objects `registry.catalog.plan_scope.plan_scope` names (never
    with `prune`, which needs the whole catalog). References are then checked for the spec's
    objects; the rest of the catalog stays as consistent as it was stored.
    """
    if prune and scoped:
        raise ValueError("a pruning plan needs the whole catalog")
    if not spec.complete:
        raise InvalidInput(list(spec.problems))
    problems: list[Problem] = list(spec.problems)
    desired: dict[str, dict[str, Fields]] = {}
    for kind in KINDS:
        stored, entries = state.of(kind), spec.of(kind)
        out: dict[str, Fields] = {}
        if not prune:  # the stored objects first, in their order (copied, or from the files)
            out = {name: dict(fields) if name not in entries
                   else _entry_fields(kind, entries[name].entry, fields)
                   for name, fields in stored.items()}
        for name, loc in entries.items():  # then the new ones, in file order
            if name not in out:
                out[name] = _entry_fields(kind, loc.entry, stored.get(name))
        desired[kind] = out
    orphans = _desired_producers(spec, state, desired["sources"], problems)
    for cname, loc in spec.consumers.items():
        for sname in loc.entry.produces:
            if sname not in desired["sources"] and sname not in spec.invalid["sources"]:
                problems.append(loc.problem(
                    f"consumer {cname!r}: produces refers to unknown source {sname!r}; declare "
                    "it in the files or register it first", "produces"))
    produced: dict[str, list[str]] = {}
    for sname, fields in desired["sources"].items():
        if fields["produced_by"]:
            produced.setdefault(fields["produced_by"], []).append(sname)
    for cname, fields in desired["consumers"].items():
        fields["produces"] = sorted(produced.get(cname, ()))
    problems.extend(_check_references(spec, desired, orphans, scoped=scoped))
    if problems:
        raise InvalidInput(problems)
    plan = Plan(desired=desired)
    for kind in KINDS:
        stored = state.of(kind)
        # only the objects that change are sorted (most of a large catalog does not change)
        changed = [name for name, after in desired[kind].items() if stored.get(name) != after]
        for name in sorted(changed):
            after = desired[kind][name]
            before = stored.get(name)
            if before is None:
                plan.changes.append(ObjectChange("create", kind, name, after=after))
            else:
                diffs = tuple(
                    FieldChange(k, before.get(k), after.get(k))
                    for k in after if before.get(k) != after.get(k)
                )
                plan.changes.append(ObjectChange("update", kind, name, diffs, before, after))
        for name in sorted(stored.keys() - desired[kind].keys()):
            plan.changes.append(ObjectChange("delete", kind, name, before=stored[name]))
    return plan


REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "teams": (),
    "sources": (("owner", "teams"), ("produced_by", "consumers")),
    "features": (("owner", "teams"), ("sources", "sources"), ("depends_on", "features"),
                 ("replacement", "features")),
    "consumers": (("owner", "teams"), ("features", "features"), ("produces", "sources")),
}
"""The fields of each kind that name other objects (and the kind they name), in check order."""
NAME_LISTS = frozenset({"sources", "depends_on", "features", "produces"})
"""The fields among those that hold a list of names (the others: one name, or None)."""


def _named(objects: Iterable[Fields], fld: str) -> Iterable[str | None]:
    """Every value of a referencing field across objects, one name (or None) at a time."""
    values = map(itemgetter(fld), objects)
    return chain.from_iterable(values) if fld in NAME_LISTS else values


def _check_references(spec: Spec, desired: dict[str, dict[str, Fields]],
                      orphans_reported: set[str], *, scoped: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    known = {kind: desired[kind].keys() for kind in KINDS}
    # what a reference may name: an object, an entry already reported invalid, or nothing
    resolvable = {kind: {None, *desired[kind], *spec.invalid[kind]} for kind in KINDS}

    def ref(kind: str, name: str, refs: list[str] | str | None, target: str, fld: str) -> None:
        values = [refs] if isinstance(refs, str) else (refs or [])
        for value in values:
            if value not in known[target] and value not in spec.invalid[target]:
                what = KIND_SINGULAR[target]
                msg = (f"{KIND_SINGULAR[kind]} {name!r}: {fld} refers to unknown {what} "
                       f"{value!r}; declare it in the files or register it first")
                loc = spec.of(kind).get(name)
                problems.append(loc.problem(msg, fld) if loc else Problem(msg))

    def unproduced(name: str, f: Fields) -> None:
        """A model output must name its producer (unless that was already reported)."""
        if f["kind"] == "model_output" and not f["produced_by"] and name not in orphans_reported:
            loc = spec.sources.get(name)
            msg = (f"source {name!r} is a model_output without produced_by: name the "
                   "consumer (model) that produces it")
            problems.append(loc.problem(msg, "kind") if loc else Problem(msg))

    for kind, fields_by_name in desired.items():
        # most catalogs: every name resolves, checked for all objects of the kind at once
        # (else each object's references are checked in turn, to report each problem)
        resolved = all(resolvable[target].issuperset(_named(fields_by_name.values(), fld))
                       for fld, target in REFERENCES[kind])
        for name, f in fields_by_name.items():
            if scoped and name not in spec.of(kind):
                # read for reference only: its own references were not read, and only a
                # model output's producer can change without the object being in the spec
                if kind == "sources":
                    unproduced(name, f)
                continue
            if not resolved:
                for fld, target in REFERENCES[kind]:
                    ref(kind, name, f[fld], target, fld)
            if kind == "sources":
                unproduced(name, f)
            elif kind == "features" and f["replacement"] == name:
                problems.append(Problem(f"feature {name!r} cannot replace itself"))
    edges = [(dep, name) for name, f in desired["features"].items()
             for dep in f["depends_on"] if dep != name]
    if not edges:  # most specs: no depends_on, no graph library to load
        return problems
    import networkx as nx

    graph = nx.DiGraph(edges)
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            # the same cycle whatever order the graph was built in (sorted nodes and edges)
            members = nx.DiGraph()
            members.add_nodes_from(sorted(component))
            members.add_edges_from(sorted(graph.subgraph(component).edges()))
            cycle = [u for u, _ in nx.find_cycle(members, source=min(component))]
            cycle = cycle[cycle.index(min(cycle)):] + cycle[: cycle.index(min(cycle))]
            path = " -> ".join([*reversed(cycle), cycle[-1]])
            where = next((spec.features[n] for n in sorted(component) if n in spec.features),
                         None)
            msg = f"depends_on cycle: {path}"
            problems.append(where.problem(msg, "depends_on") if where else Problem(msg))
    return problems
