"""The JSON write API (/api/v1) on SQLite and PostgreSQL: registrations, plan/apply, lifecycle,
finding status, usage, importance and snapshot uploads — checked against the services."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import authorize
from featreg.web import create_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.catalog import service as catalog
from registry.catalog.spec import parse_documents
from registry.evidence.rollups import feature_usage
from registry.findings.records import list_findings
from registry.findings.run import run_analysis
from registry.store import models as m
from registry.store.db import session_factory, session_scope
from registry.wire import plan_to_dict

SPEC_YAML = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, description: "Raw click log"}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    description: "Clicks by the user in the last 7 days."
    sources: [warehouse.clicks]
    created: 2025-03-01
  - {name: user_ctr_7d, owner: ads, dtype: float, depends_on: [user_clicks_7d],
     created: 2025-03-02}
consumers:
  - {name: ctr_model, kind: model, owner: ads, features: [user_clicks_7d, user_ctr_7d]}
"""


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    """The app on SQLite and on PostgreSQL (for what touches dialect-specific SQL)."""
    return create_app({"DATABASE_URL": db_url, "TESTING": True,
                       "DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return authorize(app.test_client(), app.config["DATABASE_URL"])  # type: ignore[no-any-return]


@pytest.fixture
def loaded(http: FlaskClient) -> FlaskClient:
    response = http.post("/api/v1/apply", json={"yaml": SPEC_YAML})
    assert response.status_code == 200, response.get_json()
    return http


@pytest.fixture
def lite_app(sqlite_url: str, tmp_path: Path) -> Flask:
    """The app on SQLite only (request handling that no SQL dialect changes)."""
    return create_app({"DATABASE_URL": sqlite_url, "TESTING": True,
                       "DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def lite(lite_app: Flask) -> FlaskClient:
    client = authorize(lite_app.test_client(), lite_app.config["DATABASE_URL"])
    assert client.post("/api/v1/apply", json={"yaml": SPEC_YAML}).status_code == 200
    return client


def _count(url: str, model: Any) -> int:
    with session_scope(session_factory(url)) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _token_name(url: str) -> str:
    with session_scope(session_factory(url)) as session:
        return session.scalars(select(m.ApiToken.name)).one()


def _actors(url: str, name: str) -> list[str]:
    with session_scope(session_factory(url)) as session:
        return [e.actor for e in catalog.history(session, name)]


def test_put_and_post_register_each_kind_with_the_actor(http: FlaskClient, db_url: str) -> None:
    response = http.put("/api/v1/teams/growth", json={"contact": "growth@example.com"},
                        headers={"X-Featreg-Actor": "alice"})
    assert response.status_code == 200
    plan = response.get_json()
    assert [(c["action"], c["type"], c["name"]) for c in plan["changes"]] == [
        ("create", "team", "growth")]
    assert plan["counts"] == {"create": 1, "update": 0, "delete": 0}
    assert http.post("/api/v1/sources", json={"name": "warehouse.clicks", "kind": "table",
                                              "owner": "growth", "actor": "bob"}).status_code == 200
    assert http.put("/api/v1/features/user_clicks_7d",
                    json={"owner": "growth", "dtype": "int",
                          "sources": ["warehouse.clicks"]}).status_code == 200
    assert http.post("/api/v1/consumers", json={"name": "ctr_model", "kind": "model",
                                                "owner": "growth",
                                                "features": ["user_clicks_7d"]}).status_code == 200
    admin = _token_name(db_url)  # the identity is the token's; the actor header is a note
    assert _actors(db_url, "growth") == [f"{admin} (alice)"]
    assert _actors(db_url, "warehouse.clicks") == [f"{admin} (bob)"]
    assert _actors(db_url, "ctr_model") == [admin]
    again = http.put("/api/v1/features/user_clicks_7d", json={
        "owner": "growth", "dtype": "float", "sources": ["warehouse.clicks"]}).get_json()
    assert [(c["action"], [f["field"] for f in c["changes"]]) for c in again["changes"]] == [
        ("update", ["dtype"])]
    assert again["changes"][0]["changes"][0] == {"field": "dtype", "old": "int", "new": "float"}


def test_invalid_registrations_list_every_problem_and_change_nothing(
    lite: FlaskClient, sqlite_url: str,
) -> None:
    http, before = lite, _count(sqlite_url, m.ChangeSet)
    response = http.put("/api/v1/features/f", json={"owner": "nobody", "dtype": "int",
                                                    "sources": ["nowhere"]})
    body = response.get_json()
    assert response.status_code == 400 and body["type"] == "InvalidInput"
    assert [p["field"] for p in body["problems"]] == ["owner", "sources"]
    mismatch = http.put("/api/v1/teams/a", json={"name": "b"})
    assert mismatch.status_code == 400 and "URL names 'a'" in mismatch.get_json()["message"]
    assert http.post("/api/v1/teams", data="{not json",
                     content_type="application/json").status_code == 400
    assert http.post("/api/v1/teams", json=["a list"]).status_code == 400
    assert _count(sqlite_url, m.ChangeSet) == before


def test_register_is_one_atomic_change_set(http: FlaskClient, db_url: str) -> None:
    entries = [{"kind": "teams", "fields": {"name": "growth"}},
               {"kind": "features", "fields": {"name": "a", "owner": "growth", "dtype": "int"}},
               {"kind": "features", "fields": {"name": "b", "owner": "growth", "dtype": "int"}}]
    bad = entries + [{"kind": "features", "fields": {"name": "c", "owner": "x", "dtype": "int"}}]
    assert http.post("/api/v1/register", json={"entries": bad}).status_code == 400
    assert _count(db_url, m.Feature) == 0
    response = http.post("/api/v1/register", json={"entries": entries, "label": "two features"})
    assert response.get_json()["counts"]["create"] == 3
    with session_scope(session_factory(db_url)) as session:
        sets = session.scalars(select(m.ChangeSet)).all()
        assert [(s.label, s.features_added, s.kind) for s in sets] == [("two features", 2, "sdk")]
    wrong = http.post("/api/v1/register", json={"entries": [{"kind": "widgets", "fields": {}}]})
    assert wrong.status_code == 400 and wrong.get_json()["problems"][0]["field"] == "entries[1]"


def test_plan_matches_the_service_and_apply_is_idempotent(http: FlaskClient, db_url: str
                                                          ) -> None:
    planned = http.post("/api/v1/plan", json={"yaml": SPEC_YAML}).get_json()["plan"]
    with session_scope(session_factory(db_url)) as session:
        reference = catalog.plan_spec(session, parse_documents([("request.yaml", SPEC_YAML)]))
    assert planned == json.loads(json.dumps(plan_to_dict(reference)))
    assert _count(db_url, m.Feature) == 0  # planning writes nothing
    applied = http.post("/api/v1/apply", json={"yaml": SPEC_YAML},
                        headers={"X-Featreg-Actor": "ci"}).get_json()
    assert applied["applied"] and applied["plan"]["changes"] == planned["changes"]
    again = http.post("/api/v1/apply", json={"yaml": SPEC_YAML}).get_json()
    assert (again["applied"], again["changeset"], again["plan"]["changes"]) == (False, None, [])
    assert _actors(db_url, "ctr_model") == [f"{_token_name(db_url)} (ci)"]


def test_apply_takes_a_json_spec_and_prunes(lite: FlaskClient, sqlite_url: str) -> None:
    loaded, db_url = lite, sqlite_url
    spec = {"teams": [{"name": "growth", "contact": "growth@example.com"}],
            "features": [{"name": "solo", "owner": "growth", "dtype": "bool"}]}
    planned = loaded.post("/api/v1/plan", json={"spec": spec, "prune": True}).get_json()["plan"]
    deleted = sorted(c["name"] for c in planned["changes"] if c["action"] == "delete")
    assert deleted == ["ads", "ctr_model", "user_clicks_7d", "user_ctr_7d", "warehouse.clicks"]
    assert loaded.post("/api/v1/apply", json={"spec": spec, "prune": True}).status_code == 200
    with session_scope(session_factory(db_url)) as session:
        assert sorted(session.scalars(select(m.Feature.name))) == ["solo"]


def test_spec_errors_name_the_file_and_line(lite: FlaskClient) -> None:
    http = lite
    documents = {"teams.yaml": "teams:\n  - {name: growth}\n",
                 "features.yaml": "features:\n  - name: f\n    owner: growth\n    dtype: blob\n"}
    body = http.post("/api/v1/apply", json={"yaml": documents}).get_json()
    assert body["type"] == "InvalidInput"
    assert [(p["file"], p["line"]) for p in body["problems"]] == [("features.yaml", 4)]
    for bad in ({}, {"yaml": "a: 1", "spec": {}}, {"yaml": 3}, {"spec": {"widgets": []}},
                {"spec": {"teams": "growth"}}, {"yaml": "teams: []", "prune": "yes"}):
        response = http.post("/api/v1/plan", json=bad)
        assert response.status_code == 400, bad
        assert response.get_json()["problems"], bad


def test_lifecycle_endpoints_change_the_status(lite: FlaskClient, sqlite_url: str) -> None:
    loaded, db_url = lite, sqlite_url
    response = loaded.post("/api/v1/features/user_ctr_7d/deprecate",
                           json={"sunset": "2027-01-31", "replacement": "user_clicks_7d",
                                 "reason": "superseded"})
    assert response.status_code == 200
    changed = {f["field"]: f["new"] for f in response.get_json()["changes"][0]["changes"]}
    assert changed == {"status": "deprecated", "sunset": "2027-01-31",
                       "replacement": "user_clicks_7d", "reason": "superseded"}
    assert loaded.post("/api/v1/features/user_ctr_7d/undeprecate").status_code == 200
    assert loaded.post("/api/v1/features/user_ctr_7d/retire", json={}).status_code == 200
    with session_scope(session_factory(db_url)) as session:
        assert session.scalar(select(m.Feature.status).where(m.Feature.name == "user_ctr_7d")
                              ) == "retired"
    missing = loaded.post("/api/v1/features/ghost/retire", json={})
    assert missing.status_code == 404 and missing.get_json()["type"] == "NotFound"
    bad_date = loaded.post("/api/v1/features/user_ctr_7d/deprecate", json={"sunset": "soon"})
    assert bad_date.status_code == 400 and bad_date.get_json()["problems"][0]["field"] == "sunset"


def test_findings_can_be_acknowledged_suppressed_and_reopened(
    loaded: FlaskClient, db_url: str,
) -> None:
    with session_scope(session_factory(db_url)) as session:
        run_analysis(session)
    with session_scope(session_factory(db_url)) as session:
        finding = list_findings(session, kind="undocumented")[0]
        finding_id = finding.id
    assert finding.subject_name == "user_ctr_7d"
    url = f"/api/v1/findings/{finding_id}"
    acked = loaded.post(f"{url}/ack", json={"reason": "docs next sprint"},
                        headers={"X-Featreg-Actor": "dana"}).get_json()
    assert (acked["status"], acked["status_reason"]) == ("acknowledged", "docs next sprint")
    suppressed = loaded.post(f"{url}/suppress", json={"reason": "noise", "until": "2030-01-01"})
    assert suppressed.get_json()["suppressed_until"].startswith("2030-01-01")
    assert loaded.post(f"{url}/reopen", json={"reason": "back"}).get_json()["status"] == "open"
    assert loaded.post(f"{url}/ack", json={}).status_code == 400  # a reason is required
    assert loaded.post("/api/v1/findings/999999/ack", json={"reason": "x"}).status_code == 404
    assert _actors(db_url, str(finding_id))[-1] == f"{_token_name(db_url)} (dana)"


def test_usage_batches_are_all_or_nothing_and_match_the_service(
    loaded: FlaskClient, db_url: str,
) -> None:
    events = [{"ts": "2026-11-01T12:00:00Z", "consumer": "ctr_model",
               "features": ["user_clicks_7d", "user_ctr_7d"], "count": 3},
              {"ts": "2026-11-02T08:00:00+02:00", "consumer": "adhoc",
               "feature": "user_clicks_7d"}]
    bad = [*events, {"ts": "2026-11-02", "consumer": "x", "feature": "f"}, {"consumer": "y"}]
    response = loaded.post("/api/v1/usage", json=bad)
    problems = response.get_json()["problems"]
    assert response.status_code == 400
    assert [p["field"] for p in problems] == ["event 3", "event 4"]
    assert "no timezone" in problems[0]["message"] and problems[1]["message"] == "missing ts"
    assert _count(db_url, m.UsageDaily) == 0
    compressed = gzip.compress(json.dumps({"events": events}).encode())
    response = loaded.post("/api/v1/usage", data=compressed, content_type="application/json",
                           headers={"Content-Encoding": "gzip"})
    assert response.status_code == 201 and response.get_json() == {"events": 2, "reads": 7}
    usage = loaded.get("/api/v1/usage/features?now=2026-11-03T00:00:00Z").get_json()
    with session_scope(session_factory(db_url)) as session:
        from datetime import UTC, datetime

        reference = feature_usage(session, datetime(2026, 11, 3, tzinfo=UTC))
    assert set(usage) == set(reference)
    assert {k: usage[k]["reads_7d"] for k in usage} == {k: r.reads_7d
                                                         for k, r in reference.items()}
    assert usage["user_clicks_7d"]["last_read"] == "2026-11-02T06:00:00+00:00"
    assert loaded.post("/api/v1/usage", json=[]).status_code == 400
    assert loaded.post("/api/v1/usage", data=b"\x1f\x8bnot gzip", content_type="application/json",
                       headers={"Content-Encoding": "gzip"}).status_code == 400
    assert loaded.post("/api/v1/usage", data=b"[]", content_type="application/json",
                       headers={"Content-Encoding": "br"}).status_code == 415


def test_cross_site_requests_are_refused(lite: FlaskClient, sqlite_url: str) -> None:
    """A page on another site can make a browser post a form (text/plain, multipart) or send a
    foreign Origin; neither may change anything."""
    before = _count(sqlite_url, m.ChangeSet)
    body = json.dumps({"name": "evil", "contact": "evil@example.com"})
    plain = lite.post("/api/v1/teams", data=body, content_type="text/plain")
    assert plain.status_code == 415
    foreign = lite.put("/api/v1/teams/evil", json={"contact": "evil@example.com"},
                       headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    upload = lite.post("/api/v1/snapshots", headers={"Origin": "null"},
                       data={"file": (io.BytesIO(b"a\n1\n"), "x.csv")})
    assert upload.status_code == 403
    same_site = lite.put("/api/v1/teams/friend", json={}, headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200
    assert _count(sqlite_url, m.ChangeSet) == before + 1


def test_importance_reports(lite: FlaskClient) -> None:
    loaded = lite
    body = {"consumer": "ctr_model", "values": {"user_clicks_7d": 0.8, "user_ctr_7d": 0.2},
            "method": "shap", "ts": "2026-11-01T00:00:00Z"}
    first = loaded.post("/api/v1/importance", json=body)
    assert first.status_code == 201 and first.get_json()["outcome"] == "created"
    assert loaded.post("/api/v1/importance", json=body).get_json() == {
        "report_id": first.get_json()["report_id"], "outcome": "unchanged"}
    latest = loaded.get("/api/v1/importance/latest?consumer=ctr_model").get_json()
    assert latest["ctr_model"]["values"]["user_clicks_7d"]["value"] == 0.8
    assert latest["ctr_model"]["method"] == "shap"
    ghost = loaded.post("/api/v1/importance", json={**body, "consumer": "ghost"})
    assert ghost.status_code == 404
    for bad in ({**body, "values": [1]}, {**body, "ts": "yesterday"},
                {**body, "ts": "2026-11-01T00:00:00"}, {**body, "values": {"f": "x"}}):
        assert loaded.post("/api/v1/importance", json=bad).status_code == 400, bad


def test_snapshot_uploads_are_stored_once_and_registered(loaded: FlaskClient, app: Flask,
                                                          tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_clicks_7d": range(50), "user_ctr_7d": [x * 0.5 for x in range(50)],
                          "other": [1.0] * 50})
    content = frame.to_csv(index=False).encode()

    def upload(filename: str = "sample.csv") -> Any:
        return loaded.post("/api/v1/snapshots", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), filename), "name": "weekly"})

    first = upload()
    assert first.status_code == 201, first.get_json()
    summary = first.get_json()
    assert summary["features"] == ["user_clicks_7d", "user_ctr_7d"]
    assert summary["unknown_columns"] == ["other"] and summary["correlations"] == 1
    assert summary["name"] == "weekly" and not summary["already_registered"]
    second = upload("renamed.csv").get_json()
    assert second["already_registered"] and second["id"] == summary["id"]
    stored = sorted((tmp_path / "data" / "snapshots").iterdir())
    assert [p.suffix for p in stored] == [".csv"] and stored[0].read_bytes() == content
    assert Path(summary["path"]) == stored[0].resolve()
    assert upload("sample.txt").status_code == 400
    assert loaded.post("/api/v1/snapshots", data={"name": "x"}).status_code == 400
