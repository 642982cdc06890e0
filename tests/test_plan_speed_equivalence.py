"""What the faster `load_state` and `make_plan` must keep giving.

`make_plan` reads each entry's fields without `model_dump`, checks references of a whole kind
at once (object by object only when one is unknown) and sorts only the objects that change;
`load_state` reads JSON `null` as SQL NULL, converts each distinct `created` once and builds
each object's lists once. None of that may change a plan, a problem or a stored value.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from registry.catalog import service as catalog
from registry.catalog.plan import Plan, make_plan
from registry.catalog.spec import KINDS, SPEC_MODELS, Spec, parse_documents
from registry.catalog.state import TEAM, CatalogState, _TeamNames, load_state
from registry.core.errors import InvalidInput
from registry.store.db import session_factory, session_scope

FULL = """\
teams:
  - {name: growth, contact: growth@example.com, description: Growth team}
  - {name: ads}
sources:
  - name: ctr_model.scores
    kind: model_output
    owner: ads
    description: Scores
    produced_by: ctr_model
    freshness: " 2h "
    readiness: B
    openlineage:
      - {namespace: s3://b, name: scores}
      - {namespace: s3://a, name: scores}
  - {name: ctr_model.calibrated, kind: model_output, owner: ads, produced_by: ctr_model}
  - {name: warehouse.clicks, kind: table, owner: growth}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    description: Clicks
    sources: [warehouse.clicks, ctr_model.scores]
    depends_on: [user_base]
    bundle: launch
    tags: [zeta, alpha]
    created: 2025-03-01T10:00:00+02:00
    status: deprecated
    sunset: 2030-01-31
    replacement: user_base
    reason: replaced
    cost: 3
    expect: {max: 10, min: 0, max_null_fraction: 0.5, values: [3, "null", true]}
  - {name: user_base, owner: growth, dtype: float}
consumers:
  - name: ctr_model
    kind: model
    owner: ads
    description: The CTR model
    version: "3"
    features: [user_clicks_7d, user_base]
    produces: [ctr_model.scores, ctr_model.calibrated]
    stage: production
  - {name: ranker, kind: service, owner: ads}
"""


def spec_of(text: str) -> Spec:
    return parse_documents([("catalog.yaml", text)], defer=True)


def model_dump_fields(kind: str, entry: Any) -> dict[str, Any]:
    """The fields of a new object as `make_plan` built them with `model_dump`."""
    data: dict[str, Any] = entry.model_dump(exclude={"name"})
    if kind == "features":
        data["created"] = data["created"].isoformat() if data["created"] else None
        data["sunset"] = data["sunset"].isoformat() if data["sunset"] else None
        data["sources"] = sorted(data["sources"])
        data["depends_on"] = sorted(data["depends_on"])
        if data["status"] is None:
            data["status"] = "active"
        data["expect"] = entry.expect.as_fields() if entry.expect is not None else None
    elif kind == "sources":
        data["openlineage"] = entry.aliases()
    elif kind == "consumers":
        data["features"] = sorted(data["features"])
        data["produces"] = sorted(data["produces"])
    return data


def typed(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Keys in order, values with their exact types (1 and 1.0 differ, lists and tuples too)."""
    return [(k, repr(v)) for k, v in fields.items()]


def test_planned_fields_are_what_model_dump_gave() -> None:
    spec = spec_of(FULL)
    plan = make_plan(spec, CatalogState())
    for kind in KINDS:
        for name, loc in spec.of(kind).items():
            assert typed(plan.desired[kind][name]) == typed(model_dump_fields(kind, loc.entry))
    # the entries above set every field of every kind: a field added later is covered here
    for kind, model in SPEC_MODELS.items():
        set_somewhere = {f for loc in spec.of(kind).values() for f in loc.entry.model_fields_set}
        assert set_somewhere == set(model.model_fields), kind
    # and the plan's lists are its own: changing them leaves the parsed files alone
    for fields in plan.desired["features"].values():
        fields["tags"].append("changed")
    assert spec.features["user_clicks_7d"].entry.tags == ["alpha", "zeta"]


def test_unknown_references_are_reported_object_by_object_in_file_order() -> None:
    fillers = "".join(f"  - {{name: filler_{i}, owner: growth, dtype: int}}\n"
                      for i in range(50))
    text = FULL.replace("features:\n", """features:
  - {name: a_bad, owner: nobody, dtype: int, sources: [nowhere, warehouse.clicks, gone]}
  - {name: b_bad, owner: ads, dtype: int, depends_on: [ghost], status: deprecated,
     sunset: 2030-01-01, replacement: b_bad}
  - {name: c_fine, owner: ads, dtype: int, sources: [broken.source]}
""" + fillers).replace("sources:\n", """sources:
  - {name: broken.source, kind: nonsense, owner: ads}
  - {name: z.out, kind: model_output, owner: ads, produced_by: nobody_model}
  - {name: y.out, kind: model_output, owner: ads}
""", 1).replace("consumers:\n", """consumers:
  - {name: dash, kind: dashboard, owner: ghosts, features: [ghost, user_base]}
""")
    with pytest.raises(InvalidInput) as raised:
        make_plan(spec_of(text), CatalogState())
    messages = [p.message.split(";")[0] for p in raised.value.problems]
    assert messages[0].startswith("source 'broken.source': field 'kind'")  # not "unknown"
    assert messages[1:] == [
        "source 'z.out': produced_by refers to unknown consumer 'nobody_model'",
        "source 'y.out' is a model_output without produced_by: name the consumer (model) "
        "that produces it",
        "feature 'a_bad': owner refers to unknown team 'nobody'",
        "feature 'a_bad': sources refers to unknown source 'gone'",
        "feature 'a_bad': sources refers to unknown source 'nowhere'",
        "feature 'b_bad': depends_on refers to unknown feature 'ghost'",
        "feature 'b_bad' cannot replace itself",
        "consumer 'dash': owner refers to unknown team 'ghosts'",
        "consumer 'dash': features refers to unknown feature 'ghost'",
    ]


def stored_catalog() -> CatalogState:
    plan = make_plan(spec_of(FULL), CatalogState())
    state = CatalogState()
    for kind in KINDS:
        state.of(kind).update({n: dict(f) for n, f in plan.desired[kind].items()})
    return state


def test_changes_come_in_name_order_by_kind_and_deletes_last() -> None:
    stored = stored_catalog()
    text = (FULL.replace("- {name: user_base, owner: growth, dtype: float}",
                         "- {name: user_base, owner: ads, dtype: float}\n"
                         "  - {name: a_new, owner: ads, dtype: int}\n"
                         "  - {name: zz_new, owner: ads, dtype: int}")
            .replace("description: Clicks", "description: Clicks, edited")
            .replace("  - {name: ranker, kind: service, owner: ads}\n", ""))
    plan = make_plan(spec_of(text), stored, prune=True)
    assert [(c.action, c.kind, c.name) for c in plan.changes] == [
        ("create", "features", "a_new"),
        ("update", "features", "user_base"),
        ("update", "features", "user_clicks_7d"),
        ("create", "features", "zz_new"),
        ("delete", "consumers", "ranker"),
    ]
    assert [str(c) for c in plan.changes[1].changes] == ["owner: growth -> ads"]
    assert make_plan(spec_of(FULL), stored, prune=True).is_empty()


def test_each_consumer_produces_exactly_the_sources_naming_it() -> None:
    plan = make_plan(spec_of("""\
teams: [{name: t}]
sources:
  - {name: s.b, kind: model_output, owner: t, produced_by: c1}
  - {name: s.a, kind: model_output, owner: t, produced_by: c1}
  - {name: s.c, kind: table, owner: t}
consumers:
  - {name: c1, kind: model, owner: t}
  - {name: c2, kind: model, owner: t}
"""), CatalogState())
    assert plan.desired["consumers"]["c1"]["produces"] == ["s.a", "s.b"]
    assert plan.desired["consumers"]["c2"]["produces"] == []


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    return session_factory(db_url)


def apply(sessions: sessionmaker[Session], text: str) -> Plan:
    with session_scope(sessions) as session:
        return catalog.apply_spec(session, parse_documents([("c.yaml", text)]), actor="t")[0]


def test_stored_values_read_back_as_planned(sessions: sessionmaker[Session]) -> None:
    plan = apply(sessions, FULL)
    with session_scope(sessions) as session:
        state = load_state(session)
        scoped = load_state(session, only={"features": ["user_base"], "sources": ["x"]})
    for kind in KINDS:
        for name, fields in plan.desired[kind].items():
            stored = dict(state.of(kind)[name])
            if kind == "features" and fields["created"] is None:  # the apply time
                stored["created"] = None
            assert typed(stored) == typed(fields), name
    clicks, base = state.features["user_clicks_7d"], state.features["user_base"]
    assert clicks["created"] == "2025-03-01T08:00:00+00:00"
    assert base["created"].endswith("+00:00") and base["created"] != clicks["created"]
    assert clicks["expect"] == {"min": 0.0, "max": 10.0, "max_null_fraction": 0.5,
                                "values": [3, "null", True]}
    assert base["expect"] is None and state.sources["warehouse.clicks"]["openlineage"] is None
    assert state.sources["ctr_model.scores"]["openlineage"] == [
        {"namespace": "s3://a", "name": "scores"}, {"namespace": "s3://b", "name": "scores"}]
    assert base["tags"] == base["sources"] == [] and base["tags"] is not base["sources"]
    assert state.consumers["ranker"]["features"] is not state.consumers["ranker"]["produces"]
    assert scoped.features == {"user_base": base} and scoped.sources == {}
    assert apply(sessions, FULL).is_empty()


def test_features_of_one_apply_share_its_time_and_each_has_its_own_lists(
        sessions: sessionmaker[Session]) -> None:
    apply(sessions, "teams: [{name: t}]\nfeatures:\n" + "".join(
        f"  - {{name: f{i}, owner: t, dtype: int}}\n" for i in range(3)))
    with session_scope(sessions) as session:
        features = load_state(session).features
    assert len({f["created"] for f in features.values()}) == 1
    features["f0"]["tags"].append("x")
    assert features["f1"]["tags"] == [] and features["f2"]["depends_on"] == []


def test_an_owner_newer_than_the_teams_read_is_read_again(
        sessions: sessionmaker[Session]) -> None:
    apply(sessions, "teams: [{name: early}]")
    with session_scope(sessions) as session:
        names = _TeamNames(session)
        assert list(names.values()) == ["early"]
        session.execute(insert(TEAM).values(name="late", description=""))
        late = session.scalar(select(TEAM.c.id).where(TEAM.c.name == "late"))
        assert late is not None and names[late] == "late"
        with pytest.raises(KeyError):
            names[late + 1000]
        session.rollback()
