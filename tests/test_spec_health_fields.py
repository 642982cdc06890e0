"""Spec fields for data health: a source's freshness and readiness, a feature's expect, a
consumer's stage — validated with file:line, stored, planned, applied, audited, exported."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import Cli, admin_token

from registry.catalog import service as catalog
from registry.catalog.plan import make_plan
from registry.catalog.spec import load_spec, parse_documents
from registry.catalog.state import CatalogState, load_state
from registry.core.durations import parse_duration
from registry.core.errors import InvalidInput
from registry.store import models as m
from registry.store.db import session_factory, session_scope

FILE = "catalog.yaml"
DOC = """\
teams:
  - {name: growth, contact: growth@example.com}
sources:
  - name: warehouse.clicks
    kind: table
    owner: growth
    freshness: 1d
    readiness: B
features:
  - name: clicks_7d
    owner: growth
    dtype: int
    sources: [warehouse.clicks]
    expect: {min: 0, max: 10000, max_null_fraction: 0.01}
  - name: country
    owner: growth
    dtype: category
    sources: [warehouse.clicks]
    expect:
      values: [DE, FR, "NO"]
consumers:
  - name: ranker
    kind: model
    owner: growth
    stage: production
    features: [clicks_7d, country]
  - name: notebook1
    kind: notebook
    owner: growth
    features: [country]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        make_plan(parse_documents([(FILE, text)]), CatalogState())
    return [str(p) for p in caught.value.problems]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_fields_are_valid_and_planned() -> None:
    plan = make_plan(parse_documents([(FILE, DOC)]), CatalogState())
    after = {(c.kind, c.name): c.after for c in plan.changes}
    assert after[("sources", "warehouse.clicks")]["freshness"] == "1d"  # type: ignore[index]
    assert after[("sources", "warehouse.clicks")]["readiness"] == "B"  # type: ignore[index]
    assert after[("features", "clicks_7d")]["expect"] == {  # type: ignore[index]
        "min": 0, "max": 10000, "max_null_fraction": 0.01}
    assert after[("features", "country")]["expect"] == {  # type: ignore[index]
        "values": ["DE", "FR", "NO"]}
    assert after[("consumers", "ranker")]["stage"] == "production"  # type: ignore[index]
    assert after[("consumers", "notebook1")]["stage"] == "development"  # type: ignore[index]


@pytest.mark.parametrize(("old", "new", "words"), [
    ("freshness: 1d", "freshness: 3 parsecs", "is not a duration"),
    ("freshness: 1d", "freshness: 0h", "is not a duration"),
    ("readiness: B", "readiness: D", "readiness"),
    ("expect: {min: 0, max: 10000", "expect: {min: 10, max: 1", "min (10) is greater than max (1)"),
    ("max_null_fraction: 0.01", "max_null_fraction: 1.5", "max_null_fraction"),
    ("max_null_fraction: 0.01}", "max_null_fraction: 0.01, maximum: 3}", "maximum"),
    ("stage: production", "stage: prod", "stage"),
])
def test_bad_values_name_file_and_line(old: str, new: str, words: str) -> None:
    text = DOC.replace(old, new)
    problems = _problems(text)
    line = _line(text, new.split(":")[0] if "expect" not in new else "expect:")
    assert any(words in p and p.startswith(f"{FILE}:{line}: ") for p in problems), (
        line, problems)


def test_durations() -> None:
    assert parse_duration("30m").total_seconds() == 1800
    assert parse_duration("7d").days == 7
    for bad in ("3 parsecs", "1.5h", "-1d", "d", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_apply_stores_audits_and_exports_the_fields(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(DOC)
    assert cli("apply", str(spec)).exit_code == 0
    with session_scope(session_factory(cli.url)) as session:
        state = load_state(session)
        assert state.sources["warehouse.clicks"]["readiness"] == "B"
        assert state.features["clicks_7d"]["expect"]["max"] == 10000
        assert state.consumers["ranker"]["stage"] == "production"
    # readiness changes only through the spec (or API): an audited field change
    spec.write_text(DOC.replace("readiness: B", "readiness: A"))
    assert cli("apply", str(spec)).exit_code == 0
    with session_scope(session_factory(cli.url)) as session:
        event = session.query(m.AuditEvent).filter_by(
            object_type="source", object_name="warehouse.clicks", action="update").one()
        assert event.before == {"readiness": "B"} and event.after == {"readiness": "A"}
    out = tmp_path / "export"
    assert cli("export", "--out", str(out)).exit_code == 0
    exported = yaml.safe_load((out / "growth.yaml").read_text())
    ranker = next(c for c in exported["consumers"] if c["name"] == "ranker")
    assert ranker["stage"] == "production"
    assert "stage" not in next(c for c in exported["consumers"] if c["name"] == "notebook1")
    with session_scope(session_factory(cli.url)) as session:
        again = catalog.plan_spec(session, load_spec([out]), prune=True)
        assert again.changes == []


def test_bad_spec_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(DOC.replace("readiness: B", "readiness: D"))
    result = cli("apply", str(spec))
    assert result.exit_code == 1
    assert "readiness" in result.output
    with session_scope(session_factory(cli.url)) as session:
        assert load_state(session).sources == {}


def test_api_and_pages_show_the_fields(cli: Cli, tmp_path: Path) -> None:
    from featreg.web import create_app

    spec = tmp_path / "spec.yaml"
    spec.write_text(DOC)
    assert cli("apply", str(spec)).exit_code == 0
    app = create_app({"DATABASE_URL": cli.url, "TESTING": True})
    web = app.test_client()
    source = web.get("/api/v1/sources/warehouse.clicks").get_json()
    assert source["readiness"] == "B" and source["freshness"] == "1d"
    consumer = web.get("/api/v1/consumers/ranker").get_json()
    assert consumer["stage"] == "production" and consumer["readiness"]["lowest"] == "B"
    feature = web.get("/api/v1/features/clicks_7d").get_json()
    assert feature["expect"]["max"] == 10000
    assert "readiness B" in web.get("/sources/warehouse.clicks").get_data(as_text=True)
    page = web.get("/consumers/ranker").get_data(as_text=True)
    assert "production" in page
    assert "nulls ≤ 0.01" in web.get("/features/clicks_7d").get_data(as_text=True)
    # the API changes readiness (an admin token), audited like apply
    web.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token(cli.url)}"
    put = web.put("/api/v1/sources/warehouse.clicks",
                  json={"kind": "table", "owner": "growth", "freshness": "1d",
                        "readiness": "D"})
    assert put.status_code == 400
    put = web.put("/api/v1/sources/warehouse.clicks",
                  json={"kind": "table", "owner": "growth", "freshness": "1d",
                        "readiness": "C"})
    assert put.status_code in (200, 201), put.get_json()
    with session_scope(session_factory(cli.url)) as session:
        assert session.query(m.Source).filter_by(name="warehouse.clicks").one().readiness == "C"
