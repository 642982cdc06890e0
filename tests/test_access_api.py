"""Access control through the HTTP API and the UI (DESIGN.md "Access control"): every write
needs a token; a team token changes only its team's objects; refusals are 401/403 and store
nothing; the audit trail records the token's identity; reads can be closed by a setting."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import admin_token
from featreg.web import create_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_access_tokens import SPEC  # the same two-team catalog

from registry.access.tokens import create_token, revoke_token
from registry.findings.records import list_findings
from registry.findings.run import run_analysis
from registry.store import models as m
from registry.store.db import session_factory, session_scope


def _token(url: str, name: str, team: str | None, admin: bool = False) -> str:
    with session_scope(session_factory(url)) as session:
        return create_token(session, name=name, team=team, admin=admin, created_by="test")[1]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _counts(url: str) -> dict[str, int]:
    with session_scope(session_factory(url)) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (m.Feature, m.Team, m.Consumer, m.Source, m.ChangeSet,
                              m.UsageDaily, m.ImportanceReport, m.OpenLineageEvent,
                              m.Snapshot, m.AuditEvent)}


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True,
                      "DATA_DIR": str(tmp_path / "data")})
    applied = app.test_client().post("/api/v1/apply", json={"yaml": SPEC},
                                     headers=_bearer(admin_token(db_url)))
    assert applied.status_code == 200, applied.get_json()
    return app


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def _writes(token: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """One write of each kind, each about the ads team's objects."""
    event = {"eventType": "COMPLETE", "eventTime": "2026-11-01T00:00:00Z",
             "run": {"runId": "r-1"}, "job": {"namespace": "airflow", "name": "ctr_model"},
             "inputs": [], "outputs": []}
    return [
        ("PUT", "/api/v1/features/ad_ctr", {"json": {"owner": "ads", "dtype": "int"}}),
        ("POST", "/api/v1/register", {"json": {"entries": [
            {"kind": "features", "fields": {"name": "ad_ctr", "owner": "ads", "dtype": "int"}}]}}),
        ("POST", "/api/v1/apply", {"json": {"spec": {}, "prune": True}}),
        ("POST", "/api/v1/features/ad_ctr/retire", {"json": {}}),
        ("POST", "/api/v1/usage", {"json": [{"ts": "2026-11-01T00:00:00Z",
                                             "consumer": "ctr_model", "feature": "ad_ctr",
                                             "count": 10**12}]}),
        ("POST", "/api/v1/importance", {"json": {"consumer": "ctr_model",
                                                 "values": {"ad_ctr": 1.0}}}),
        ("POST", "/api/v1/lineage", {"json": event}),
        ("POST", "/api/v1/snapshots", {"data": {"file": (io.BytesIO(b"ad_ctr\n1\n"), "s.csv"),
                                                "consumer": "ctr_model"}}),
    ]


def test_every_write_without_a_token_is_401_and_stores_nothing(http: FlaskClient,
                                                                db_url: str) -> None:
    before = _counts(db_url)
    for method, path, kwargs in _writes({}):
        response = http.open(path, method=method, **kwargs)
        assert response.status_code == 401, (path, response.get_json())
        assert response.get_json()["type"] == "Unauthenticated"
    for header in ("Bearer frg_" + "x" * 43, "Basic dXNlcjpwYXNz", "Bearer "):
        response = http.put("/api/v1/teams/ads", json={}, headers={"Authorization": header})
        assert response.status_code == 401, header
    assert _counts(db_url) == before


def test_a_team_token_may_not_touch_another_teams_objects(http: FlaskClient,
                                                           db_url: str) -> None:
    growth = _bearer(_token(db_url, "growth-ci", "growth"))
    before = _counts(db_url)
    for method, path, kwargs in _writes(growth):
        response = http.open(path, method=method, headers=growth, **kwargs)
        assert response.status_code == 403, (path, response.get_json())
        assert "team 'ads'" in response.get_json()["message"] or \
            "admin" in response.get_json()["message"], path
    assert _counts(db_url) == before
    taken = http.put("/api/v1/features/ad_ctr", json={"owner": "growth", "dtype": "float"},
                     headers=growth)
    assert taken.status_code == 403  # taking another team's object is changing it


def test_a_team_registers_snapshots_only_of_features_it_owns_or_declares(
        http: FlaskClient, db_url: str) -> None:
    """A snapshot's statistics become evidence about each feature column (drift, unit changes),
    so growth may not upload figures for ads' `ad_ctr`; ads may upload growth's
    `user_clicks_7d` because its `ctr_model` declares it (a training sample)."""
    growth = _bearer(_token(db_url, "growth-ci", "growth"))
    ads = _bearer(_token(db_url, "ads-ci", "ads"))

    def upload(headers: dict[str, str], csv: bytes, name: str) -> Any:
        return http.post("/api/v1/snapshots", headers=headers, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(csv), f"{name}.csv"), "name": name})

    before = _counts(db_url)
    refused = upload(growth, b"user_clicks_7d,ad_ctr\n1,0.5\n2,0.25\n", "mixed")
    assert refused.status_code == 403, refused.get_json()
    assert "'ad_ctr' (ads)" in refused.get_json()["message"]
    assert _counts(db_url) == before
    own = upload(growth, b"user_clicks_7d,unknown_column\n1,7\n2,8\n", "own")
    assert own.status_code == 201, own.get_json()
    declared = upload(ads, b"user_clicks_7d,ad_ctr\n1,0.5\n2,0.25\n", "training")
    assert declared.status_code == 201, declared.get_json()
    assert sorted(declared.get_json()["features"]) == ["ad_ctr", "user_clicks_7d"]


def test_a_team_token_changes_its_own_objects_and_the_audit_names_it(
    http: FlaskClient, db_url: str,
) -> None:
    growth = _bearer(_token(db_url, "growth-ci", "growth"))
    own = http.put("/api/v1/features/user_clicks_7d",
                   json={"owner": "growth", "dtype": "float", "sources": ["warehouse.clicks"]},
                   headers={**growth, "X-Featreg-Actor": "alice"})
    assert own.status_code == 200, own.get_json()
    assert http.post("/api/v1/usage", headers=growth, json=[
        {"ts": "2026-11-01T00:00:00Z", "consumer": "growth_job",
         "feature": "user_clicks_7d"}]).status_code == 201
    with session_scope(session_factory(db_url)) as session:
        actors = session.scalars(select(m.AuditEvent.actor)
                                 .where(m.AuditEvent.object_name == "user_clicks_7d")).all()
    assert actors[-1] == "growth/growth-ci (alice)"


def test_an_unregistered_job_may_be_reported_by_a_team_but_not_a_foreign_consumer(
    http: FlaskClient, db_url: str,
) -> None:
    growth = _bearer(_token(db_url, "growth-ci", "growth"))
    event = {"eventType": "COMPLETE", "eventTime": "2026-11-01T00:00:00Z",
             "run": {"runId": "r-2"}, "job": {"namespace": "airflow", "name": "adhoc_export"},
             "inputs": [], "outputs": []}
    assert http.post("/api/v1/lineage", json=event, headers=growth).status_code == 201
    foreign = {**event, "run": {"runId": "r-3"}, "job": {"namespace": "x", "name": "ctr_model"}}
    assert http.post("/api/v1/lineage", json=foreign, headers=growth).status_code == 403


def test_a_revoked_token_is_403_and_an_admin_may_do_everything(http: FlaskClient,
                                                                db_url: str) -> None:
    secret = _token(db_url, "ads-ci", "ads")
    with session_scope(session_factory(db_url)) as session:
        revoke_token(session, "ads-ci")
    before = _counts(db_url)
    refused = http.put("/api/v1/features/ad_ctr", json={"owner": "ads", "dtype": "int"},
                       headers=_bearer(secret))
    assert refused.status_code == 403 and "revoked" in refused.get_json()["message"]
    assert _counts(db_url) == before
    admin = _bearer(_token(db_url, "root", None, admin=True))
    assert http.post("/api/v1/features/ad_ctr/retire", json={}, headers=admin).status_code == 200


def test_findings_actions_are_scoped_to_the_subjects_team(app: Flask, http: FlaskClient,
                                                          db_url: str) -> None:
    with session_scope(session_factory(db_url)) as session:
        run_analysis(session)
    with session_scope(session_factory(db_url)) as session:
        ads_finding = next(f.id for f in list_findings(session, kind="undocumented")
                           if f.subject_name == "ad_ctr")
    growth = _bearer(_token(db_url, "growth-ci", "growth"))
    ads = _bearer(_token(db_url, "ads-ci", "ads"))
    url = f"/api/v1/findings/{ads_finding}/ack"
    assert http.post(url, json={"reason": "x"}, headers=growth).status_code == 403
    assert http.post(url, json={"reason": "x"}, headers=ads).status_code == 200


def test_the_ui_needs_a_sign_in_for_its_forms(app: Flask, db_url: str) -> None:
    with session_scope(session_factory(db_url)) as session:
        run_analysis(session)
    with session_scope(session_factory(db_url)) as session:
        finding = next(f.id for f in list_findings(session, kind="undocumented")
                       if f.subject_name == "ad_ctr")
    web = app.test_client()
    page = web.get(f"/findings/{finding}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None and "Sign in" in page
    form = {"csrf_token": csrf.group(1), "action": "acknowledge", "reason": "later"}
    assert web.post(f"/findings/{finding}/status", data=form).status_code == 401
    wrong = web.post("/signin", data={"csrf_token": csrf.group(1), "token": "frg_nope"})
    assert wrong.status_code == 401 and "invalid token" in wrong.get_data(as_text=True)
    secret = _token(db_url, "ads-ui", "ads")
    signed = web.post("/signin", data={"csrf_token": csrf.group(1), "token": secret,
                                       "next": "//evil.example/"})
    assert signed.status_code == 302 and "evil" not in signed.headers["Location"]
    assert "Sign out" in web.get("/").get_data(as_text=True)
    assert web.post(f"/findings/{finding}/status", data=form).status_code == 303
    with session_scope(session_factory(db_url)) as session:
        assert session.get(m.Finding, finding).status == "acknowledged"  # type: ignore[union-attr]
        revoke_token(session, "ads-ui")
    assert "Sign out" not in web.get("/").get_data(as_text=True)  # revoked: signed out


def test_reads_can_be_made_token_only(app: Flask, db_url: str) -> None:
    closed = create_app({"DATABASE_URL": db_url, "TESTING": True, "READS_NEED_TOKEN": True})
    web = closed.test_client()
    assert web.get("/api/v1/features").status_code == 401
    assert web.get("/features").status_code == 302  # to the sign-in page
    assert web.get("/healthz").status_code == 200
    assert web.get("/api/v1/features", headers=_bearer(admin_token(db_url))).status_code == 200


def test_a_trusted_proxy_header_signs_in_only_when_configured(app: Flask, db_url: str) -> None:
    plain = create_app({"DATABASE_URL": db_url, "TESTING": True}).test_client()
    assert plain.put("/api/v1/teams/ads", json={},
                     headers={"X-Remote-User": "mallory"}).status_code == 401
    proxied = create_app({"DATABASE_URL": db_url, "TESTING": True,
                          "SSO_USER_HEADER": "X-Remote-User",
                          "SSO_TEAM_HEADER": "X-Remote-Team"}).test_client()
    headers = {"X-Remote-User": "dana", "X-Remote-Team": "ads"}
    assert proxied.put("/api/v1/features/ad_ctr", json={"owner": "ads", "dtype": "int"},
                       headers=headers).status_code == 200
    assert proxied.put("/api/v1/features/user_clicks_7d",
                       json={"owner": "growth", "dtype": "int"},
                       headers=headers).status_code == 403
