"""The list pages (sources, consumers, principals, history), usage in the catalog, the team
page's undeclared reads, freshness and the jobs page, with their JSON twins, on the fixture
catalog plus a few reads made today (the catalog's own usage is months old)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import admin_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from web_catalog import SLASH_PRINCIPAL, XSS_PRINCIPAL

from registry.access.tokens import create_token
from registry.evidence.usage import record_usage
from registry.evidence.usage_events import UsageEvent
from registry.store import models as m
from registry.store.db import session_factory, session_scope

RECENT_READER = "adhoc_notebook_today"


@pytest.fixture(scope="module")
def recent(catalog_url: str) -> str:
    """Reads made today: fraud_model reads user_clicks_30d (declared), an unregistered
    notebook reads user_clicks_7d (owned by growth) without declaring it."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    with session_scope(session_factory(catalog_url)) as session:
        record_usage(session, [UsageEvent(now, "fraud_model", ("user_clicks_30d",), 11),
                               UsageEvent(now, RECENT_READER, ("user_clicks_7d",), 3)])
    return catalog_url


@pytest.fixture
def web(app: Flask, recent: str) -> FlaskClient:
    return app.test_client()


def page(web: FlaskClient, url: str, status: int = 200) -> str:
    response = web.get(url)
    assert response.status_code == status, (url, response.data[:800])
    return response.get_data(as_text=True)


def linked(html: str, prefix: str) -> list[str]:
    return re.findall(r'<a href="' + prefix + r'([^"]+)"', html)


# ----- sources, consumers ----------------------------------------------------------------------


def test_sources_page_sorts_filters_and_pages(web: FlaskClient) -> None:
    html = page(web, "/sources")
    assert linked(html, "/sources/") == ["ctr_model.scores", "warehouse.clicks"]
    assert '<div class="table-wrap">' in html
    most = page(web, "/sources?sort=-features")
    assert linked(most, "/sources/")[0] == "warehouse.clicks"
    assert linked(page(web, "/sources?owner=ads"), "/sources/") == ["ctr_model.scores"]
    assert linked(page(web, "/sources?q=CLICK"), "/sources/") == ["warehouse.clicks"]
    data = web.get("/api/v1/sources?per_page=1").get_json()
    assert data["pagination"] == {"page": 1, "per_page": 1, "total": 2, "pages": 2,
                                  "has_previous": False, "has_next": True}
    clicks = web.get("/api/v1/sources?q=warehouse").get_json()["items"][0]
    assert clicks["features"] == 4 and clicks["owner"] == "growth"


def test_consumers_page_counts_declarations_and_filters(web: FlaskClient) -> None:
    data = web.get("/api/v1/consumers?sort=-features").get_json()
    assert [(c["name"], c["features"]) for c in data["items"]] == [("fraud_model", 3),
                                                                   ("ctr_model", 2)]
    assert data["items"][1]["produces"] == ["ctr_model.scores"]
    html = page(web, "/consumers?owner=risk")
    assert linked(html, "/consumers/") == ["fraud_model"]
    fallback = web.get("/api/v1/consumers?sort=unknown").get_json()
    assert fallback["query"]["sort"] == "name"  # an unknown sort falls back to the first


# ----- principals ------------------------------------------------------------------------------


def test_principals_lists_every_reader_registered_or_not(web: FlaskClient) -> None:
    data = web.get("/api/v1/principals?per_page=100").get_json()
    rows = {p["name"]: p for p in data["items"]}
    assert {"ctr_model", "fraud_model", XSS_PRINCIPAL, SLASH_PRINCIPAL} <= set(rows)
    assert rows["ctr_model"]["registered"] and not rows[XSS_PRINCIPAL]["registered"]
    assert rows[XSS_PRINCIPAL]["total_reads"] == 5 * 10
    assert rows["ctr_model"]["last_seen"] is not None
    unregistered = web.get("/api/v1/principals?registered=no").get_json()["items"]
    assert all(not p["registered"] for p in unregistered) and len(unregistered) >= 2
    html = page(web, "/principals?registered=no")
    assert "&lt;script&gt;" in html and XSS_PRINCIPAL not in html
    assert f'href="/consumers/{SLASH_PRINCIPAL}"' in html
    top = web.get("/api/v1/principals?sort=-total_reads").get_json()["items"][0]
    assert top["name"] == "ctr_model"  # 80 reads a day for 30 days


# ----- history ---------------------------------------------------------------------------------


def test_history_filters_by_who_what_and_when(web: FlaskClient) -> None:
    data = web.get("/api/v1/history?actor=ALICE&type=consumer&name=fraud").get_json()
    assert data["items"] and all(e["type"] == "consumer" and e["name"] == "fraud_model"
                                 and "alice" in e["actor"] for e in data["items"])
    assert {e["action"] for e in data["items"]} >= {"create", "update"}
    future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert web.get(f"/api/v1/history?since={future}").get_json()["items"] == []
    today = datetime.now(UTC).date().isoformat()
    assert web.get(f"/api/v1/history?until={today}&per_page=5").get_json()["pagination"][
        "has_next"]
    oldest = web.get("/api/v1/history?sort=ts&per_page=1").get_json()["items"][0]
    newest = web.get("/api/v1/history?per_page=1").get_json()["items"][0]
    assert oldest["ts"] <= newest["ts"]
    bad = web.get("/api/v1/history?since=last-week")
    assert bad.status_code == 400 and "since" in bad.get_json()["message"]
    html = page(web, "/history?type=feature&action=update")
    assert linked(html, "/features/") == ["old_feature"]  # its deprecation
    assert "<b>status</b>" in html and "deprecated" in html


# ----- usage in the catalog ---------------------------------------------------------------------


def test_catalog_shows_usage_columns_and_sorts_by_them(web: FlaskClient) -> None:
    data = web.get("/api/v1/features?sort=-reads_30d&per_page=3").get_json()
    first = data["items"][0]
    assert first["name"] == "user_clicks_30d"
    assert first["usage"]["reads_30d"] == 11 and first["usage"]["readers"] == 1
    shares = web.get("/api/v1/features?sort=-top_share&per_page=2").get_json()["items"]
    assert shares[0]["name"] == "user_clicks_30d" and shares[0]["usage"]["top_share"] == 0.8991
    longest = web.get("/api/v1/features?sort=last_read&per_page=1").get_json()["items"][0]
    assert longest["usage"]["last_read"] is None  # never read comes first
    html = page(web, "/features?sort=-reads_30d")
    assert '<div class="table-wrap">' in html and "reads (30 d)" in html
    assert ">11<" in html


def test_catalog_filters_unread_and_unread_features(web: FlaskClient) -> None:
    everything = web.get("/api/v1/features?per_page=1").get_json()["pagination"]["total"]
    unread = web.get("/api/v1/features?unread_days=30&per_page=500").get_json()
    names = {f["name"] for f in unread["items"]}
    assert unread["pagination"]["total"] == everything - 2
    assert "user_clicks_30d" not in names and "user_clicks_7d" not in names
    assert "old_feature" in names  # last read in March
    no_readers = web.get("/api/v1/features?no_readers=1&q=clicks").get_json()["items"]
    assert [f["name"] for f in no_readers] == ["user_clicks_30d_copy"]
    html = page(web, "/features?unread_days=30&owner=growth")
    assert re.findall(r'class="feature-link" href="/features/([^"]+)"', html) == [
        "user_clicks_30d_copy"]


# ----- team page, freshness ---------------------------------------------------------------------


def test_team_page_shows_undeclared_reads_of_its_features(web: FlaskClient) -> None:
    data = web.get("/api/v1/teams/growth").get_json()
    pairs = {(r["principal"], r["feature"]) for r in data["undeclared_reads"]["items"]}
    assert (RECENT_READER, "user_clicks_7d") in pairs
    assert ("ctr_model", "user_clicks_30d") in pairs  # declared only user_clicks_7d
    assert ("fraud_model", "user_clicks_30d") not in pairs  # declared
    html = page(web, "/teams/growth")
    assert "Undeclared reads" in html and "&lt;script&gt;" in html


def test_home_says_how_old_the_findings_are(web: FlaskClient) -> None:
    html = page(web, "/")
    assert re.search(r"As of analysis run \d+, <b>\d+ days ago</b>", html)
    assert "older than a day" in html
    assert re.search(r"As of analysis run \d+, <b>\d+ days ago</b>", page(web, "/findings"))
    fresh = web.get("/api/v1/").get_json()["freshness"]
    assert fresh["stale"] and fresh["run"] >= 1


def test_freshness_before_any_analysis_and_just_after(sqlite_url: str) -> None:
    from featreg.web import create_app

    from registry.findings.run import run_analysis

    http = create_app({"DATABASE_URL": sqlite_url, "TESTING": True}).test_client()
    assert "No analysis has run yet" in page(http, "/")
    with session_scope(session_factory(sqlite_url)) as session:
        run_analysis(session, now=datetime.now(UTC))
    html = page(http, "/")
    assert "As of analysis run" in html and "older than a day" not in html
    assert not http.get("/api/v1/summary").get_json()["freshness"]["stale"]


# ----- jobs ------------------------------------------------------------------------------------


def test_jobs_page_lists_schedules_and_next_runs(web: FlaskClient) -> None:
    data = web.get("/api/v1/jobs").get_json()
    jobs = {j["job"]: j for j in data["jobs"]}
    assert {"analysis", "rollups", "weekly_report", "sunset"} <= set(jobs)
    assert jobs["analysis"]["schedule"] and jobs["analysis"]["next_run"]
    html = page(web, "/jobs")
    assert "analysis" in html and "next run" in html
    assert "Run now" not in html  # only admins see the button


def signed_in(app: Flask, secret: str) -> tuple[FlaskClient, str]:
    """A client signed in with a token, and its form token."""
    http = app.test_client()
    form = re.search(r'name="csrf_token" value="([^"]+)"', page(http, "/signin"))
    assert form
    response = http.post("/signin", data={"token": secret, "csrf_token": form.group(1)})
    assert response.status_code == 302
    return http, form.group(1)


def test_run_now_needs_an_admin_and_a_form_token(app: Flask, catalog_url: str) -> None:
    assert app.test_client().post("/jobs/sunset/run").status_code == 401
    with session_scope(session_factory(catalog_url)) as session:
        _row, team_secret = create_token(session, name="growth-bot", team="growth",
                                         admin=False, created_by="tests")
    team, csrf = signed_in(app, team_secret)
    assert "Run now" not in page(team, "/jobs")
    refused = team.post("/jobs/sunset/run", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "admin" in refused.get_data(as_text=True)
    admin, _ = signed_in(app, admin_token(catalog_url))
    html = page(admin, "/jobs")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token and "Run now" in html
    assert admin.post("/jobs/sunset/run", data={}).status_code == 400  # no form token
    assert admin.post("/jobs/nope/run", data={"csrf_token": token.group(1)}).status_code == 404
    done = admin.post("/jobs/sunset/run", data={"csrf_token": token.group(1)})
    assert done.status_code == 303 and done.headers["Location"].endswith("started=sunset")
    status = None
    for _ in range(100):  # the run goes on in the background
        with session_scope(session_factory(catalog_url)) as session:
            status = session.scalar(select(m.JobRun.status).where(
                m.JobRun.job == "sunset", m.JobRun.trigger == "manual"))
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert status == "succeeded"
    last = {j["job"]: j for j in admin.get("/api/v1/jobs").get_json()["jobs"]}["sunset"]
    assert last["last_run"]["status"] == "succeeded" and last["last_run"]["trigger"] == "manual"


# ----- the same queries on both databases -------------------------------------------------------


def test_list_usage_and_audit_queries_agree_on_sqlite_and_postgresql(
        db_url: str, tmp_path: Path) -> None:
    from web_catalog import NOW, build_catalog

    from registry.core.settings import SchedulerSettings
    from registry.read import audit, browse, ops
    from registry.read.catalog_usage import UsageTable
    from registry.read.freshness import analysis_freshness
    from registry.read.team_usage import undeclared_reads

    build_catalog(db_url, tmp_path)
    with session_scope(session_factory(db_url)) as session:
        sources = browse.sources_page(session, browse.ListQuery(sort="-features"))
        assert [(s["name"], s["features"]) for s in sources["items"]] == [
            ("warehouse.clicks", 4), ("ctr_model.scores", 1)]
        consumers = browse.consumers_page(session, browse.ListQuery(
            q="MODEL", sort="-features", filters={"owner": "risk"}))
        assert [(c["name"], c["features"]) for c in consumers["items"]] == [("fraud_model", 3)]
        readers = {p.name: p for p in browse.principal_rows(session, NOW)}
        assert readers[SLASH_PRINCIPAL].total_reads == readers[SLASH_PRINCIPAL].reads == 40
        assert not readers[SLASH_PRINCIPAL].registered and readers["ctr_model"].registered
        history = audit.history_page(session, browse.ListQuery(filters={
            "actor": "Alice", "type": "consumer", "since": "2000-01-01"}))
        assert history["items"] and {e["name"] for e in history["items"]} == {
            "ctr_model", "fraud_model"}
        usage = UsageTable.load(session, NOW)
        assert usage.get("user_clicks_30d").reads_30d == 30 * 7 + 5 + 10 * 2
        assert usage.get("user_clicks_30d").readers == 3
        assert usage.get("user_clicks_30d").top_share == pytest.approx(0.9 / 1.001)
        assert usage.get("bulk_feature_000") == usage.get("no such feature")
        undeclared = undeclared_reads(session, "growth")
        assert {(r["principal"], r["feature"]) for r in undeclared["items"]} >= {
            ("ctr_model", "user_clicks_30d"), (SLASH_PRINCIPAL, "user_clicks_30d"),
            (XSS_PRINCIPAL, "user_clicks_7d")}
        assert undeclared["total"] == len(undeclared["items"])
        jobs = {j["job"]: j for j in ops.jobs_overview(session, SchedulerSettings())}
        assert jobs["analysis"]["last_run"] is None and jobs["analysis"]["next_run"]
        assert analysis_freshness(session, NOW + timedelta(hours=2))["stale"] is False
        assert analysis_freshness(session, NOW + timedelta(days=2))["age"] == "2 days"
