"""The Python client (`registry.connect(url)`) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

import registry
from registry.catalog import lineage
from registry.catalog import service as catalog
from registry.catalog.spec import parse_documents
from registry.core.errors import FeatregError, InvalidInput, Problem, SchemaOutdated
from registry.sdk.client import Client
from registry.store import models as m
from registry.store.db import dispose_engine, session_factory, session_scope


def change_set_count(url: str) -> int:
    with session_scope(session_factory(url)) as session:
        return session.scalar(select(func.count()).select_from(m.ChangeSet)) or 0


@pytest.fixture
def catalog_client(client: Client) -> Client:
    client.register_team("growth", contact="growth@example.com")
    client.register_team("ads", description="Ads team")
    client.register_source("warehouse.clicks", kind="table", owner="growth",
                           description="Raw click log")
    client.register_feature("user_clicks_7d", owner="growth", dtype="int",
                            description="Clicks by the user in the last **7 days**.",
                            sources=["warehouse.clicks"], tags=["ads", "Clicks"])
    client.register_feature("user_ctr_7d", owner="ads", dtype="float",
                            depends_on=["user_clicks_7d"], created=date(2025, 3, 1))
    client.register_consumer("ctr_model", kind="model", owner="ads",
                             features=["user_clicks_7d", "user_ctr_7d"])
    client.register_source("ctr_model.scores", kind="model_output", owner="ads",
                           produced_by="ctr_model")
    return client


def test_registered_objects_can_be_read_back(catalog_client: Client) -> None:
    feature = catalog_client.get("user_clicks_7d")
    assert feature["type"] == "feature"
    assert feature["owner"] == "growth" and feature["dtype"] == "int"
    assert feature["sources"] == ["warehouse.clicks"]
    assert feature["tags"] == ["Clicks", "ads"]
    assert feature["status"] == "active"
    assert catalog_client.get("user_ctr_7d")["created"] == "2025-03-01T00:00:00+00:00"
    assert catalog_client.get("ctr_model")["produces"] == ["ctr_model.scores"]
    assert catalog_client.get("ctr_model.scores")["produced_by"] == "ctr_model"
    assert catalog_client.get("ads") == {"type": "team", "name": "ads", "contact": None,
                                         "description": "Ads team"}


def test_each_registration_is_one_change_set(db_url: str, catalog_client: Client) -> None:
    assert change_set_count(db_url) == 7
    catalog_client.register_team("growth", contact="growth@example.com")  # unchanged
    assert change_set_count(db_url) == 7


def test_a_bundle_is_one_change_set_and_named_on_each_feature(db_url: str,
                                                              catalog_client: Client) -> None:
    before = change_set_count(db_url)
    with catalog_client.bundle("launch-x") as client:
        for i in range(3):
            client.register_feature(f"launch_{i}", owner="ads", dtype="float",
                                    depends_on=["user_ctr_7d"])
        client.register_feature("explicit", owner="ads", dtype="int", bundle="other")
        client.register_consumer("launch_model", kind="model", owner="ads",
                                 features=[f"launch_{i}" for i in range(3)])
        assert change_set_count(db_url) == before  # nothing is written inside the block
    assert change_set_count(db_url) == before + 1
    with session_scope(session_factory(db_url)) as session:
        rows = session.execute(select(m.Feature.name, m.Feature.bundle, m.Feature.changeset_id)
                               .where(m.Feature.name.in_(
                                   ["launch_0", "launch_1", "launch_2", "explicit"]))).all()
        change_set = session.scalars(select(m.ChangeSet).order_by(m.ChangeSet.id.desc())).first()
    assert change_set is not None
    assert {name: bundle for name, bundle, _ in rows} == {
        "launch_0": "launch-x", "launch_1": "launch-x", "launch_2": "launch-x",
        "explicit": "other"}
    assert {cs for _, _, cs in rows} == {change_set.id}
    assert (change_set.kind, change_set.actor, change_set.features_added) == ("sdk", "tester", 4)
    assert "launch-x" in (change_set.label or "")
    # after the block, features are no longer put in the bundle
    catalog_client.register_feature("after", owner="ads", dtype="int")
    assert catalog_client.get("after")["bundle"] is None


def test_a_failing_batch_applies_nothing(db_url: str, catalog_client: Client) -> None:
    before = change_set_count(db_url)
    with pytest.raises(RuntimeError), catalog_client.batch() as client:
        client.register_feature("half_done", owner="ads", dtype="int")
        raise RuntimeError("training crashed")
    with pytest.raises(InvalidInput) as caught, catalog_client.batch() as client:
        client.register_feature("fine", owner="ads", dtype="int")
        client.register_feature("bad", owner="nobody", dtype="int")
    assert "unknown team 'nobody'" in str(caught.value)
    assert change_set_count(db_url) == before
    assert {f["name"] for f in catalog_client.list()} == {"user_clicks_7d", "user_ctr_7d"}


def test_batches_do_not_nest(catalog_client: Client) -> None:
    with pytest.raises(FeatregError, match="do not nest"), catalog_client.batch():
        with catalog_client.batch():
            pass


BAD_REGISTRATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("bad-dtype", "features", {"name": "f", "owner": "ads", "dtype": "integer"}),
    ("bad-name", "features", {"name": "9f", "owner": "ads", "dtype": "int"}),
    ("unknown-owner", "features", {"name": "f", "owner": "nobody", "dtype": "int"}),
    ("unknown-source", "features", {"name": "f", "owner": "ads", "dtype": "int",
                                    "sources": ["nowhere"]}),
    ("self-dependency", "features", {"name": "f", "owner": "ads", "dtype": "int",
                                     "depends_on": ["f"]}),
    ("bad-tag", "features", {"name": "f", "owner": "ads", "dtype": "int", "tags": ["a b"]}),
    ("bad-source-kind", "sources", {"name": "s", "kind": "lake", "owner": "ads"}),
    ("model-output-without-producer", "sources", {"name": "s", "kind": "model_output",
                                                  "owner": "ads"}),
    ("unknown-producer", "sources", {"name": "s", "kind": "model_output", "owner": "ads",
                                     "produced_by": "ghost"}),
    ("bad-consumer-kind", "consumers", {"name": "c", "kind": "robot", "owner": "ads"}),
    ("unknown-feature", "consumers", {"name": "c", "kind": "model", "owner": "ads",
                                      "features": ["ghost"]}),
    ("bad-contact", "teams", {"name": "t", "contact": "nope"}),
]


def register(client: Client, kind: str, fields: dict[str, Any]) -> None:
    getattr(client, f"register_{kind.removesuffix('s')}")(**fields)


def yaml_problems(url: str, kind: str, fields: dict[str, Any]) -> list[Problem]:
    text = yaml.safe_dump({kind: [fields]}, sort_keys=False)
    with pytest.raises(InvalidInput) as caught:
        spec = parse_documents([("catalog.yaml", text)])
        with session_scope(session_factory(url)) as session:
            catalog.plan_spec(session, spec)
    return caught.value.problems


def test_sdk_errors_are_the_same_invalid_input_as_yaml(db_url: str,
                                                     catalog_client: Client) -> None:
    mismatches = []
    for case, kind, fields in BAD_REGISTRATIONS:  # one database for all cases: they write nothing
        with pytest.raises(InvalidInput) as caught:
            register(catalog_client, kind, fields)
        sdk = caught.value.problems
        from_file = yaml_problems(db_url, kind, fields)
        if [p.message for p in sdk] != [p.message for p in from_file]:
            mismatches.append((case, [str(p) for p in sdk], [str(p) for p in from_file]))
        assert all(p.file is None for p in sdk), case
        assert all(p.file == "catalog.yaml" and p.line for p in from_file), case
    assert mismatches == []
    assert change_set_count(db_url) == 7


def test_lifecycle_through_the_sdk_is_audited(catalog_client: Client) -> None:
    catalog_client.deprecate("user_clicks_7d", sunset=date(2030, 1, 31),
                             replacement="user_ctr_7d", reason="superseded")
    deprecated = catalog_client.get("user_clicks_7d")
    assert (deprecated["status"], deprecated["sunset"], deprecated["replacement"],
            deprecated["reason"]) == ("deprecated", "2030-01-31", "user_ctr_7d", "superseded")
    # redeclaring the feature keeps its lifecycle
    catalog_client.register_feature("user_clicks_7d", owner="growth", dtype="int",
                                    sources=["warehouse.clicks"])
    assert catalog_client.get("user_clicks_7d")["status"] == "deprecated"
    catalog_client.undeprecate("user_clicks_7d")
    assert catalog_client.get("user_clicks_7d")["status"] == "active"
    assert catalog_client.get("user_clicks_7d")["sunset"] is None
    catalog_client.retire("user_clicks_7d", reason="gone")
    retired = catalog_client.get("user_clicks_7d")
    assert retired["status"] == "retired" and retired["sunset"] is not None

    events = [e for e in reversed(catalog_client.history("user_clicks_7d"))
              if e["action"] == "update"]
    statuses = [(e["before"].get("status"), e["after"].get("status")) for e in events
                if "status" in e["after"]]
    assert statuses == [("active", "deprecated"), ("deprecated", "active"),
                        ("active", "retired")]
    assert events[0]["after"]["replacement"] == "user_ctr_7d"
    assert {e["actor"] for e in events} == {"tester"}


def test_deprecating_with_an_unknown_replacement_is_refused(catalog_client: Client) -> None:
    with pytest.raises(InvalidInput, match="unknown feature 'ghost'"):
        catalog_client.deprecate("user_clicks_7d", sunset=date(2030, 1, 1), replacement="ghost")
    assert catalog_client.get("user_clicks_7d")["status"] == "active"
    with pytest.raises(registry.NotFound):
        catalog_client.retire("ghost")


def test_list_and_search(catalog_client: Client) -> None:
    assert [f["name"] for f in catalog_client.list(owner="ads")] == ["user_ctr_7d"]
    assert [f["name"] for f in catalog_client.search("7 DAYS")] == ["user_clicks_7d"]
    assert [f["name"] for f in catalog_client.search("clicks")] == ["user_clicks_7d"]
    # every word, anywhere (the catalog page's meaning), not the phrase
    assert [f["name"] for f in catalog_client.search("7d CLICK")] == ["user_clicks_7d"]
    assert catalog_client.search("clicks zzz") == []
    assert [f["name"] for f in catalog_client.list(tag="ads")] == ["user_clicks_7d"]
    catalog_client.deprecate("user_ctr_7d", sunset=date(2030, 1, 1))
    assert [f["name"] for f in catalog_client.list(status="deprecated")] == ["user_ctr_7d"]
    assert [f["name"] for f in catalog_client.list(status="active")] == ["user_clicks_7d"]


def test_lineage_through_the_sdk_matches_the_service(db_url: str,
                                                     catalog_client: Client) -> None:
    with session_scope(session_factory(db_url)) as session:
        down = [n.to_dict() for n in lineage.lineage(session, "warehouse.clicks",
                                                     downstream=True)]
        up = [n.to_dict() for n in lineage.lineage(session, "user_ctr_7d", downstream=False,
                                                   depth=1)]
        closure = [n.to_dict() for n in lineage.closure(session, "ctr_model")]
    assert catalog_client.lineage("warehouse.clicks") == down
    assert catalog_client.impact("warehouse.clicks") == down
    assert catalog_client.lineage("user_ctr_7d", upstream=True, depth=1) == up
    assert catalog_client.closure("ctr_model") == closure
    assert {(n["type"], n["name"]) for n in down} == {
        ("feature", "user_clicks_7d"), ("feature", "user_ctr_7d"), ("consumer", "ctr_model"),
        ("source", "ctr_model.scores")}


def test_connect_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    try:
        with pytest.raises(SchemaOutdated, match="featreg init"):
            registry.connect(url)
    finally:
        dispose_engine(url)
