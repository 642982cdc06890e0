"""Properties of apply, on random valid catalogs (hypothesis), on SQLite and PostgreSQL.

1. apply, then apply the same spec again: an empty plan, and not one row written.
2. a spec with one injected invalid item: InvalidInput, and every row of every table unchanged.

Each example starts from an empty (migrated) database: the test's database is emptied first.
"""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.exc import SAWarning
from test_apply import dump_database, reflected_tables

from registry.catalog import service as catalog
from registry.catalog.plan import Plan
from registry.catalog.spec import parse_documents
from registry.core.errors import InvalidInput
from registry.store.db import get_engine, session_factory, session_scope

SpecDict = dict[str, list[dict[str, Any]]]

NAMES = st.from_regex(r"[a-z][a-z0-9_.\-]{0,11}", fullmatch=True)
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n"),
               max_size=40)
TAGS = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_:\-]{0,5}", fullmatch=True), max_size=3)
DATES = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])


@st.composite
def catalog_specs(draw: st.DrawFn) -> SpecDict:
    """A valid spec: teams, sources (some model outputs), a depends_on DAG, consumers."""
    names = draw(st.lists(NAMES, min_size=10, max_size=30, unique=True))
    teams = names[: draw(st.integers(1, 3))]
    sources = names[3: 3 + draw(st.integers(0, 4))]
    rest = names[7:]
    consumers = rest[: draw(st.integers(0, len(rest) // 3))]
    features = rest[len(consumers):]
    spec: SpecDict = {"teams": [], "sources": [], "features": [], "consumers": []}
    for team in teams:
        entry: dict[str, Any] = {"name": team}
        if draw(st.booleans()):
            entry["contact"] = f"{team}@example.com"
        spec["teams"].append(entry)
    model_outputs = draw(st.sets(st.sampled_from(sources))) if sources and consumers else set()
    for source in sources:
        entry = {"name": source, "owner": draw(st.sampled_from(teams)),
                 "description": draw(TEXT)}
        if source in model_outputs:
            entry.update(kind="model_output", produced_by=draw(st.sampled_from(consumers)))
        else:
            entry["kind"] = draw(st.sampled_from(["table", "stream", "file", "api"]))
        spec["sources"].append(entry)
    for i, feature in enumerate(features):
        entry = {
            "name": feature, "owner": draw(st.sampled_from(teams)),
            "dtype": draw(st.sampled_from(["int", "float", "bool", "string", "category",
                                           "timestamp", "vector"])),
            "description": draw(TEXT),
            "sources": draw(st.lists(st.sampled_from(sources), unique=True, max_size=2))
            if sources else [],
            "depends_on": draw(st.lists(st.sampled_from(features[:i]), unique=True,
                                        max_size=3)) if i else [],
            "tags": draw(TAGS),
        }
        if draw(st.booleans()):
            entry["created"] = draw(DATES)
        if draw(st.booleans()):
            entry["bundle"] = draw(NAMES)
        if draw(st.booleans()):
            entry["cost"] = draw(st.floats(0, 1e6, allow_nan=False))
        status = draw(st.sampled_from([None, "active", "deprecated", "retired"]))
        if status is not None:
            entry["status"] = status
        if status in ("deprecated", "retired"):
            entry["sunset"] = draw(DATES)
            if len(features) > 1 and draw(st.booleans()):
                entry["replacement"] = draw(st.sampled_from(
                    [f for f in features if f != feature]))
        spec["features"].append(entry)
    for consumer in consumers:
        spec["consumers"].append({
            "name": consumer, "owner": draw(st.sampled_from(teams)),
            "kind": draw(st.sampled_from(["model", "service", "job", "dashboard", "notebook"])),
            "features": draw(st.lists(st.sampled_from(features), unique=True, max_size=4)),
        })
    return spec


def inject_invalid(spec: SpecDict, choice: int) -> tuple[SpecDict, str]:
    """The spec plus one invalid item (and some valid edits); the words its problem holds."""
    spec = {kind: [dict(e) for e in entries] for kind, entries in spec.items()}
    for entry in spec["features"]:  # valid edits that a partial write would leave behind
        entry["description"] = entry["description"] + " (edited)"
    spec["features"].append({"name": "ZZ_new_valid", "owner": spec["teams"][0]["name"],
                             "dtype": "int"})
    team = spec["teams"][0]["name"]
    first = spec["features"][0]["name"]
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("features", {"name": "ZZ_bad", "owner": "ZZ_nobody", "dtype": "int"}, "unknown team"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "int",
                      "sources": ["ZZ_nowhere"]}, "unknown source"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "int",
                      "depends_on": ["ZZ_ghost"]}, "unknown feature"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "decimal"}, "dtype"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "int",
                      "status": "deprecated"}, "sunset"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "int", "status": "deprecated",
                      "sunset": date(2030, 1, 1), "replacement": "ZZ_ghost"}, "unknown feature"),
        ("features", {"name": "ZZ_bad", "owner": team, "dtype": "int",
                      "depends_on": [first]}, "cycle"),  # closed below
        ("features", {"name": first, "owner": team, "dtype": "int"}, "duplicate feature"),
        ("sources", {"name": "ZZ_bad", "owner": team, "kind": "model_output"},
         "without produced_by"),
        ("sources", {"name": "ZZ_bad", "owner": team, "kind": "table",
                     "produced_by": "ZZ_ghost"}, "unknown consumer"),
        ("consumers", {"name": "ZZ_bad", "owner": team, "kind": "model",
                       "features": ["ZZ_ghost"]}, "unknown feature"),
        ("teams", {"name": "9_bad_name"}, "invalid name"),
        ("teams", {"name": "ZZ_bad", "colour": "red"}, "unknown field"),
    ]
    kind, entry, words = bad[choice % len(bad)]
    spec[kind].append(entry)
    if words == "cycle":
        spec["features"][0] = {**spec["features"][0], "depends_on": ["ZZ_bad"]}
    return spec, words


def as_yaml(spec: SpecDict) -> str:
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)


def apply_yaml(url: str, document: str, *, prune: bool = False) -> tuple[Plan, int | None]:
    spec = parse_documents([("catalog.yaml", document)])
    with session_scope(session_factory(url)) as session:
        return catalog.apply_spec(session, spec, actor="hypothesis", prune=prune)


def empty_database(url: str) -> None:
    """Delete every row of every table but alembic_version (tables of later issues too)."""
    with warnings.catch_warnings():  # a cycle of foreign keys only makes the order arbitrary
        warnings.simplefilter("ignore", SAWarning)
        tables = reflected_tables(url).sorted_tables
    with get_engine(url).begin() as conn:
        for table in reversed(tables):
            if table.name != "alembic_version":
                conn.execute(delete(table))


@PROPERTY_SETTINGS
@given(spec=catalog_specs())
def test_applying_the_same_spec_twice_writes_nothing_the_second_time(
        db_url: str, spec: SpecDict) -> None:
    empty_database(db_url)
    document = as_yaml(spec)
    plan, changeset = apply_yaml(db_url, document)
    assert changeset is not None and plan.counts()["create"] == sum(map(len, spec.values()))
    before = dump_database(db_url)
    for prune in (False, True):
        again, changeset = apply_yaml(db_url, document, prune=prune)
        assert again.is_empty(), [str(c) for ch in again.changes for c in ch.changes]
        assert changeset is None
    assert dump_database(db_url) == before


@PROPERTY_SETTINGS
@given(spec=catalog_specs(), choice=st.integers(0, 100))
def test_a_spec_with_one_invalid_item_changes_nothing(db_url: str, spec: SpecDict,
                                                      choice: int) -> None:
    empty_database(db_url)
    apply_yaml(db_url, as_yaml(spec))
    before = dump_database(db_url)
    invalid, words = inject_invalid(spec, choice)
    with pytest.raises(InvalidInput) as caught:
        apply_yaml(db_url, as_yaml(invalid))
    assert any(words in p.message for p in caught.value.problems), caught.value
    assert all(p.file == "catalog.yaml" and p.line for p in caught.value.problems)
    assert dump_database(db_url) == before
