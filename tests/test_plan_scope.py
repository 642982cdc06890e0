"""A plan read from the part of the catalog a spec touches equals the plan read from all of it.

`catalog.plan_spec` plans a small spec without prune from `plan_scope`'s objects only. On a
random stored catalog (hypothesis), a random partial spec — edited entries, new ones, unknown
references, new dependency cycles, moved model outputs, dropped `produces` — gets the same
changes, or the same problems, both ways.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_apply_properties import (
    PROPERTY_SETTINGS,
    SpecDict,
    apply_yaml,
    as_yaml,
    catalog_specs,
    empty_database,
)

from registry.catalog.plan import Plan, make_plan
from registry.catalog.plan_scope import plan_scope
from registry.catalog.service import plan_spec, spec_from_entries
from registry.catalog.state import load_state
from registry.core.errors import InvalidInput
from registry.store.db import session_factory, session_scope


@st.composite
def partial_specs(draw: st.DrawFn, stored: SpecDict) -> list[tuple[str, dict[str, Any]]]:
    """Some of the stored entries, edited, plus new ones; references may be unknown."""
    names = {kind: [e["name"] for e in entries] for kind, entries in stored.items()}
    features = names["features"] + ["zz_new_feature", "zz_ghost"]
    sources = names["sources"] + ["zz_new_source", "zz_ghost_source"]
    consumers = names["consumers"] + ["zz_new_consumer", "zz_ghost_consumer"]
    teams = names["teams"]
    entries: list[tuple[str, dict[str, Any]]] = []
    for kind in ("teams", "sources", "features", "consumers"):
        chosen = draw(st.lists(st.sampled_from(stored[kind]), max_size=3,
                               unique_by=lambda e: e["name"])) if stored[kind] else []
        entries += [(kind, dict(e)) for e in chosen]
    if draw(st.booleans()):
        entries.append(("features", {"name": "zz_new_feature",
                                     "owner": draw(st.sampled_from(teams)), "dtype": "int"}))
    if draw(st.booleans()):
        entries.append(("sources", {"name": "zz_new_source",
                                    "owner": draw(st.sampled_from(teams)), "kind": "table"}))
    if draw(st.booleans()):
        entries.append(("consumers", {"name": "zz_new_consumer", "kind": "model",
                                      "owner": draw(st.sampled_from(teams))}))
    for kind, entry in entries:
        edit = draw(st.integers(0, 5))
        if kind == "features" and edit == 0:
            entry["depends_on"] = draw(st.lists(st.sampled_from(features), unique=True,
                                                max_size=3))
        elif kind == "features" and edit == 1:
            entry.update(status="deprecated", sunset=date(2030, 1, 1),
                         replacement=draw(st.sampled_from(features)))
        elif kind == "features" and edit == 2:
            entry.pop("status", None), entry.pop("sunset", None), entry.pop("replacement", None)
            entry["sources"] = draw(st.lists(st.sampled_from(sources), unique=True,
                                             max_size=2))
        elif kind == "consumers" and edit in (0, 1):
            entry["produces"] = draw(st.lists(st.sampled_from(sources), unique=True,
                                              max_size=2))
            entry["features"] = draw(st.lists(st.sampled_from(features), unique=True,
                                              max_size=3))
        elif kind == "sources" and edit in (0, 1):
            entry.update(kind="model_output" if draw(st.booleans()) else "table",
                         produced_by=draw(st.sampled_from([None, *consumers])))
        elif edit == 2:
            entry["description"] = f"edited {edit}"
    return entries


def _outcome(make: Any) -> tuple[str, Any]:
    try:
        plan: Plan = make()
    except InvalidInput as error:
        return "problems", sorted(str(p) for p in error.problems)
    return "plan", [(c.action, c.kind, c.name, c.changes, c.before, c.after)
                    for c in plan.changes]


@PROPERTY_SETTINGS
@given(data=st.data(), stored=catalog_specs())
def test_a_scoped_plan_equals_the_plan_from_the_whole_catalog(
        db_url: str, stored: SpecDict, data: st.DataObject) -> None:
    empty_database(db_url)
    apply_yaml(db_url, as_yaml(stored))
    entries = data.draw(partial_specs(stored))
    with session_scope(session_factory(db_url)) as session:
        whole = _outcome(lambda: make_plan(spec_from_entries(entries), load_state(session)))
        spec = spec_from_entries(entries)
        scoped = _outcome(lambda: make_plan(
            spec, load_state(session, only=plan_scope(session, spec)), scoped=True))
    assert scoped == whole


def test_a_small_change_reads_a_small_part_of_the_catalog(sqlite_url: str) -> None:
    stored: SpecDict = {
        "teams": [{"name": "t"}],
        "sources": [{"name": f"s{i}", "owner": "t", "kind": "table"} for i in range(50)],
        "features": [{"name": f"f{i}", "owner": "t", "dtype": "int", "sources": [f"s{i}"],
                      "depends_on": [f"f{i - 1}"] if i % 10 else []} for i in range(50)],
        "consumers": [],
    }
    apply_yaml(sqlite_url, as_yaml(stored))
    spec = spec_from_entries([("features", {"name": "f25", "owner": "t", "dtype": "float",
                                            "depends_on": ["f24"]})])
    with session_scope(session_factory(sqlite_url)) as session:
        scope = plan_scope(session, spec)
    # the feature, its upstream chain within its group of ten, its team
    assert scope["features"] == {f"f{i}" for i in range(20, 26)}
    assert scope["sources"] == set() and scope["consumers"] == set()
    assert scope["teams"] == {"t"}


def test_a_scoped_plan_sees_a_cycle_through_stored_features(sqlite_url: str) -> None:
    chain = [{"name": f"f{i}", "owner": "t", "dtype": "int",
              "depends_on": [f"f{i - 1}"] if i else []} for i in range(6)]
    apply_yaml(sqlite_url, as_yaml({"teams": [{"name": "t"}], "sources": [],
                                    "features": chain, "consumers": []}))
    spec = spec_from_entries([("features", {"name": "f0", "owner": "t", "dtype": "int",
                                            "depends_on": ["f5"]})])
    with session_scope(session_factory(sqlite_url)) as session:
        try:
            catalog_plan = _outcome(lambda: plan_spec(session, spec))
        finally:
            session.rollback()
    assert catalog_plan == ("problems", [
        "depends_on: depends_on cycle: f5 -> f4 -> f3 -> f2 -> f1 -> f0 -> f5"])
