"""Plans are values: make_plan(spec, stored state) -> ObjectChange / FieldChange. No database.

The stored state is the plan's own `desired` state (what `load_state` returns after applying
it; test_apply.py proves that equality on both databases).
"""

from __future__ import annotations

import random

import pytest

from registry.catalog.plan import FieldChange, ObjectChange, Plan, make_plan
from registry.catalog.spec import KINDS, Spec, parse_documents
from registry.catalog.state import CatalogState
from registry.core.errors import InvalidInput

STORED_CREATED = "2025-01-02T03:04:05+00:00"

CATALOG = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, description: Raw click log}
  - {name: ctr_model.scores, kind: model_output, owner: ads, produced_by: ctr_model}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    description: Clicks in the last 7 days.
    sources: [warehouse.clicks]
    tags: [ads, clicks]
  - name: user_ctr_7d
    owner: growth
    dtype: float
    sources: [warehouse.clicks]
    depends_on: [user_clicks_7d]
  - name: ctr_score
    owner: ads
    dtype: float
    sources: [ctr_model.scores]
consumers:
  - name: ctr_model
    kind: model
    owner: ads
    features: [user_clicks_7d, user_ctr_7d]
    produces: [ctr_model.scores]
  - name: ranker
    kind: service
    owner: ads
    features: [ctr_score]
"""


def spec_of(text: str, name: str = "catalog.yaml") -> Spec:
    return parse_documents([(name, text)])


def plan_of(text: str, state: CatalogState | None = None, *, prune: bool = False) -> Plan:
    return make_plan(spec_of(text), state or CatalogState(), prune=prune)


def stored_after(plan: Plan) -> CatalogState:
    """The catalog as stored once `plan` is applied (apply fills in `created`)."""
    state = CatalogState()
    for kind in KINDS:
        for name, fields in plan.desired[kind].items():
            fields = dict(fields)
            if kind == "features" and fields["created"] is None:
                fields["created"] = STORED_CREATED
            state.of(kind)[name] = fields
    return state


@pytest.fixture
def stored() -> CatalogState:
    return stored_after(plan_of(CATALOG))


def by_field(change: ObjectChange) -> dict[str, tuple[object, object]]:
    return {c.field: (c.old, c.new) for c in change.changes}


def feature(name: str, owner: str = "growth", extra: str = "") -> str:
    return f"  - name: {name}\n    owner: {owner}\n    dtype: int\n{extra}"


def test_plan_on_an_empty_catalog_creates_everything_in_dependency_order() -> None:
    plan = plan_of(CATALOG)
    assert [(c.action, c.kind, c.name) for c in plan.changes] == [
        ("create", "teams", "ads"), ("create", "teams", "growth"),
        ("create", "sources", "ctr_model.scores"), ("create", "sources", "warehouse.clicks"),
        ("create", "features", "ctr_score"), ("create", "features", "user_clicks_7d"),
        ("create", "features", "user_ctr_7d"),
        ("create", "consumers", "ctr_model"), ("create", "consumers", "ranker"),
    ]
    assert plan.counts() == {"create": 9, "update": 0, "delete": 0}
    created = {c.name: c for c in plan.changes}
    assert created["user_clicks_7d"].after is not None
    assert created["user_clicks_7d"].after["status"] == "active"
    assert created["user_clicks_7d"].after["tags"] == ["ads", "clicks"]
    assert created["ctr_model"].after == {
        "kind": "model", "owner": "ads", "description": "", "version": None,
        "features": ["user_clicks_7d", "user_ctr_7d"], "produces": ["ctr_model.scores"],
        "stage": "development",
    }
    assert all(c.before is None and c.changes == () for c in plan.changes)


def test_the_same_spec_again_plans_nothing(stored: CatalogState) -> None:
    plan = plan_of(CATALOG, stored)
    assert plan.is_empty()
    assert plan.summary() == "No changes: the catalog already matches."


def test_an_update_is_reported_field_by_field(stored: CatalogState) -> None:
    edited = CATALOG.replace("  - name: user_ctr_7d\n    owner: growth",
                             "  - name: user_ctr_7d\n    owner: ads")
    plan = plan_of(edited, stored)
    (change,) = plan.changes
    assert change == ObjectChange(
        "update", "features", "user_ctr_7d", (FieldChange("owner", "growth", "ads"),),
        before=stored.features["user_ctr_7d"],
        after={**stored.features["user_ctr_7d"], "owner": "ads"},
    )
    assert str(change.changes[0]) == "owner: growth -> ads"
    assert plan.summary() == "0 to create, 1 to update, 0 to delete."


def test_several_fields_of_one_object_change_together(stored: CatalogState) -> None:
    edited = CATALOG.replace("    dtype: float\n    sources: [warehouse.clicks]\n",
                             "    dtype: int\n    sources: [ctr_model.scores, warehouse.clicks]\n")
    (change,) = plan_of(edited, stored).changes
    assert by_field(change) == {
        "dtype": ("float", "int"),
        "sources": (["warehouse.clicks"], ["ctr_model.scores", "warehouse.clicks"]),
    }


def test_objects_absent_from_the_files_stay_without_prune(stored: CatalogState) -> None:
    plan = plan_of("features:\n" + feature("brand_new"), stored)
    assert [(c.action, c.name) for c in plan.changes] == [("create", "brand_new")]
    assert set(plan.desired["features"]) == set(stored.features) | {"brand_new"}


def test_prune_deletes_objects_absent_from_the_files(stored: CatalogState) -> None:
    kept = "teams:\n  - {name: growth, contact: growth@example.com}\nfeatures:\n" + feature(
        "user_clicks_7d", extra="    description: Clicks in the last 7 days.\n")
    plan = plan_of(kept, stored, prune=True)
    deleted = {(c.kind, c.name) for c in plan.of("delete")}
    assert deleted == {
        ("teams", "ads"), ("sources", "ctr_model.scores"), ("sources", "warehouse.clicks"),
        ("features", "ctr_score"), ("features", "user_ctr_7d"),
        ("consumers", "ctr_model"), ("consumers", "ranker"),
    }
    for change in plan.of("delete"):
        assert change.before == stored.of(change.kind)[change.name]
        assert change.after is None
    # user_clicks_7d loses its source (declared whole) but is not deleted
    (update,) = plan.of("update")
    assert update.name == "user_clicks_7d"
    assert {c.field for c in update.changes} == {"sources", "tags"}


def test_prune_without_changes_plans_nothing(stored: CatalogState) -> None:
    assert plan_of(CATALOG, stored, prune=True).is_empty()


def test_files_may_reference_objects_already_registered(stored: CatalogState) -> None:
    document = "features:\n" + feature(
        "user_views_7d", extra="    sources: [warehouse.clicks]\n    depends_on: [ctr_score]\n")
    document += "consumers:\n  - {name: dash, kind: dashboard, owner: ads, " \
                "features: [user_views_7d, user_clicks_7d]}\n"
    plan = plan_of(document, stored)
    assert {(c.action, c.name) for c in plan.changes} == {
        ("create", "user_views_7d"), ("create", "dash")}


def test_a_reference_is_unknown_when_neither_in_files_nor_registered(
        stored: CatalogState) -> None:
    document = "features:\n" + feature("user_views_7d", "marketing",
                                       "    sources: [warehouse.views]\n")
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored)
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 2
    assert any("unknown source 'warehouse.views'" in m for m in messages)
    assert any("unknown team 'marketing'" in m for m in messages)


def test_with_prune_only_the_files_count_as_registered(stored: CatalogState) -> None:
    document = "features:\n" + feature("user_views_7d")  # team growth is stored, not declared
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored, prune=True)
    assert any("unknown team 'growth'" in p.message for p in caught.value.problems)


def test_a_consumer_in_the_files_declares_its_whole_feature_list(stored: CatalogState) -> None:
    document = "consumers:\n  - {name: ranker, kind: service, owner: ads, " \
               "features: [user_ctr_7d, user_clicks_7d]}\n"
    (change,) = plan_of(document, stored).changes
    assert change.changes == (FieldChange("features", ["ctr_score"],
                                          ["user_clicks_7d", "user_ctr_7d"]),)


def test_fields_a_file_omits_go_back_to_their_defaults(stored: CatalogState) -> None:
    document = "features:\n" + feature("user_clicks_7d", extra="    sources: [warehouse.clicks]\n")
    (change,) = plan_of(document, stored).changes
    assert by_field(change) == {
        "description": ("Clicks in the last 7 days.", ""), "tags": (["ads", "clicks"], []),
    }


def test_a_consumer_that_stops_producing_a_model_output_is_refused(stored: CatalogState) -> None:
    document = "consumers:\n  - {name: ctr_model, kind: model, owner: ads, " \
               "features: [user_clicks_7d, user_ctr_7d]}\n"
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored)
    (problem,) = caught.value.problems
    assert "no longer produces the model_output source 'ctr_model.scores'" in problem.message
    assert problem.file == "catalog.yaml" and problem.line == 2  # the consumer that dropped it


def test_produces_sets_the_producer_of_a_stored_source(stored: CatalogState) -> None:
    document = ("sources:\n  - {name: ranker.clicks, kind: table, owner: ads}\n"
                "consumers:\n  - {name: ranker, kind: service, owner: ads, features: [ctr_score],"
                " produces: [ranker.clicks]}\n")
    plan = plan_of(document, stored)
    assert plan.desired["sources"]["ranker.clicks"]["produced_by"] == "ranker"
    (source, consumer) = plan.changes
    assert (source.action, source.name) == ("create", "ranker.clicks")
    assert consumer.changes == (FieldChange("produces", [], ["ranker.clicks"]),)


def test_a_source_with_two_producers_is_refused(stored: CatalogState) -> None:
    document = "consumers:\n  - {name: ranker, kind: service, owner: ads, features: [ctr_score]," \
               " produces: [ctr_model.scores]}\n"
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored)
    (problem,) = caught.value.problems
    assert "produced by both ctr_model and ranker" in problem.message
    assert problem.file == "catalog.yaml"


def test_lifecycle_fields_are_kept_when_the_file_omits_them(stored: CatalogState) -> None:
    stored.features["user_ctr_7d"].update(status="deprecated", sunset="2030-06-30",
                                          replacement="user_clicks_7d", reason="noisy",
                                          created="2024-05-06T00:00:00+00:00")
    assert plan_of(CATALOG, stored).is_empty()


def test_an_explicit_status_replaces_the_lifecycle_fields(stored: CatalogState) -> None:
    stored.features["user_ctr_7d"].update(status="deprecated", sunset="2030-06-30",
                                          replacement="user_clicks_7d", reason="noisy")
    edited = CATALOG.replace("    depends_on: [user_clicks_7d]\n",
                             "    depends_on: [user_clicks_7d]\n    status: active\n")
    (change,) = plan_of(edited, stored).changes
    assert set(change.changes) == {
        FieldChange("status", "deprecated", "active"), FieldChange("sunset", "2030-06-30", None),
        FieldChange("replacement", "user_clicks_7d", None), FieldChange("reason", "noisy", None),
    }


def test_a_deprecation_in_the_file_is_planned(stored: CatalogState) -> None:
    edited = CATALOG.replace(
        "    depends_on: [user_clicks_7d]\n",
        "    depends_on: [user_clicks_7d]\n    status: deprecated\n    sunset: 2030-06-30\n"
        "    replacement: ctr_score\n")
    (change,) = plan_of(edited, stored).changes
    assert set(change.changes) == {
        FieldChange("status", "active", "deprecated"), FieldChange("sunset", None, "2030-06-30"),
        FieldChange("replacement", None, "ctr_score"),
    }


def test_created_is_kept_unless_the_file_sets_it(stored: CatalogState) -> None:
    assert plan_of(CATALOG, stored).is_empty()
    edited = CATALOG.replace("    dtype: float\n    sources: [ctr_model.scores]\n",
                             "    dtype: float\n    sources: [ctr_model.scores]\n"
                             "    created: 2024-03-01\n")
    (change,) = plan_of(edited, stored).changes
    assert change.changes == (
        FieldChange("created", STORED_CREATED, "2024-03-01T00:00:00+00:00"),)


def test_a_cycle_through_a_registered_feature_is_found(stored: CatalogState) -> None:
    # stored: user_ctr_7d depends on user_clicks_7d; the file closes the loop
    document = "features:\n" + feature("user_clicks_7d", extra="    depends_on: [user_ctr_7d]\n")
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored)
    (problem,) = caught.value.problems
    assert "user_clicks_7d -> user_ctr_7d -> user_clicks_7d" in problem.message \
        or "user_ctr_7d -> user_clicks_7d -> user_ctr_7d" in problem.message
    assert (problem.file, problem.line) == ("catalog.yaml", 5)


def test_deleting_a_feature_still_referenced_by_the_files_is_refused(
        stored: CatalogState) -> None:
    document = CATALOG.replace("  - name: ctr_score\n    owner: ads\n    dtype: float\n"
                               "    sources: [ctr_model.scores]\n", "")
    with pytest.raises(InvalidInput) as caught:
        plan_of(document, stored, prune=True)
    assert any("unknown feature 'ctr_score'" in p.message for p in caught.value.problems)


def test_the_plan_does_not_depend_on_declaration_order(stored: CatalogState) -> None:
    spec = spec_of(CATALOG.replace("owner: growth", "owner: ads"))
    reordered = spec_of(CATALOG.replace("owner: growth", "owner: ads"))
    for kind in KINDS:
        items = list(reordered.of(kind).items())
        random.Random(7).shuffle(items)
        reordered.of(kind).clear()
        reordered.of(kind).update(items)
    assert make_plan(spec, stored) == make_plan(reordered, stored)


def test_a_field_change_stays_on_one_line_whatever_the_text() -> None:
    """Untrusted text in a plan line: a line break cannot forge a line of its own, and
    terminal escapes are shown, not sent."""
    change = FieldChange("description", "old", "x\n+ feature forged\x1b[31m\r\u2028")
    assert str(change) == "description: old -> x\\n+ feature forged\\x1b[31m\\r\\u2028"
    assert "\n" not in str(change)
