"""The JSON twins under /api/v1 (and ?format=json): shapes, filters, and agreement with the
services and reference implementations they stand for."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from itertools import product
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from featreg.web import create_app
from flask import Flask
from flask.testing import FlaskClient
from web_catalog import SLASH_PRINCIPAL, XSS_PRINCIPAL, build_catalog

import registry
from registry.analysis.graph import build_catalog_graph, consumer_closure
from registry.analysis.inputs import ConsumerInfo, FeatureInfo, SourceInfo
from registry.catalog import lineage
from registry.catalog.search import FeatureSearchIndex
from registry.catalog.state import load_state
from registry.findings.records import finding_to_dict, list_findings
from registry.read.lists import CATALOG_SORTS, CatalogQuery, catalog_page
from registry.store.db import session_factory, session_scope


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def get(api: FlaskClient, url: str, status: int = 200) -> Any:
    response = api.get(url)
    assert response.status_code == status, (url, response.data[:300])
    assert response.mimetype == "application/json"
    return response.get_json()


def test_summary(api: FlaskClient) -> None:
    data = get(api, "/api/v1/summary")
    assert data == get(api, "/api/v1/")
    assert data["totals"]["features"] == 65 and data["totals"]["deprecated_features"] == 1
    by_kind = {row["kind"]: row["count"] for row in data["open_findings_by_kind"]}
    assert by_kind["undeclared_consumer"] == 3 and by_kind["feedback_loop"] == 1
    assert data["latest_report"] is None
    assert data["recent_changes"][0]["actor"] == "alice"


def test_features_search_agrees_with_the_sdk(api: FlaskClient, catalog_url: str) -> None:
    client = registry.connect(catalog_url)
    for term in ("clicks", "harmless", "bulk", "Bulk feature number 1", "zzz"):
        data = get(api, f"/api/v1/features?q={term}&per_page=500&sort=name")
        words = term.split()
        expected = {f["name"] for f in client.search(words[0])}
        for word in words[1:]:
            expected &= {f["name"] for f in client.search(word)}
        assert sorted(i["name"] for i in data["items"]) == sorted(expected), term
        assert data["pagination"]["total"] == len(expected)


def test_features_pagination_and_sort(api: FlaskClient) -> None:
    first = get(api, "/api/v1/features?tag=bulk&per_page=7&sort=-name")
    assert first["pagination"] == {"page": 1, "per_page": 7, "total": 60, "pages": 9,
                                   "has_previous": False, "has_next": True}
    names = [i["name"] for i in first["items"]]
    assert names == sorted(names, reverse=True) and names[0] == "bulk_feature_059"
    beyond = get(api, "/api/v1/features?tag=bulk&per_page=7&page=99")
    assert beyond["pagination"]["page"] == 9 and len(beyond["items"]) == 4
    item = get(api, "/api/v1/features?q=old_feature")["items"][0]
    assert item["status"] == "deprecated" and item["sunset"] == "2026-06-30"
    assert item["findings"] == ["deprecated_in_use", "undocumented"]


def test_feature_detail(api: FlaskClient) -> None:
    data = get(api, "/api/v1/features/user_clicks_7d")
    assert data["owner"] == "growth" and data["dtype"] == "int"
    assert [s["name"] for s in data["sources"]] == ["warehouse.clicks"]
    assert [d["name"] for d in data["derived"]] == ["user_clicks_30d"]
    assert [c["name"] for c in data["declared_consumers"]] == ["ctr_model"]
    readers = {r["principal"]: r for r in data["readers"]}
    assert readers["ctr_model"]["declared"] and readers["ctr_model"]["reads"] == 30 * 40
    assert not readers[XSS_PRINCIPAL]["declared"] and not readers[XSS_PRINCIPAL]["registered"]
    assert data["undeclared_readers"] == [XSS_PRINCIPAL]
    latest = {row["consumer"]: row for row in data["importance_latest"]}
    assert latest["ctr_model"]["share"] == pytest.approx(0.20)
    assert data["importance_history_points"] == 3
    assert {n["id"] for n in data["graph"]["nodes"]} >= {
        "feature:user_clicks_7d", "source:warehouse.clicks", "consumer:ctr_model",
        f"consumer:{XSS_PRINCIPAL}"}
    undeclared = [e for e in data["graph"]["edges"] if e["kind"] == "undeclared"]
    assert {(e["from"], e["to"]) for e in undeclared} == {
        ("feature:user_clicks_7d", f"consumer:{XSS_PRINCIPAL}"),
        ("feature:user_clicks_30d", f"consumer:{SLASH_PRINCIPAL}"),
        ("feature:user_clicks_30d", "consumer:ctr_model")}
    assert data == get(api, "/features/user_clicks_7d?format=json")


def test_feedback_loop_is_flagged_in_graph(api: FlaskClient) -> None:
    graph = get(api, "/api/v1/features/ctr_score_feature")["graph"]
    loop = {(e["from"], e["to"]) for e in graph["edges"] if e["loop"]}
    assert loop == {("consumer:ctr_model", "source:ctr_model.scores"),
                    ("source:ctr_model.scores", "feature:ctr_score_feature"),
                    ("feature:ctr_score_feature", "consumer:ctr_model")}


def test_lineage_matches_the_lineage_service(api: FlaskClient, catalog_url: str) -> None:
    with session_scope(session_factory(catalog_url)) as session:
        for name in ("user_clicks_7d", "warehouse.clicks", "fraud_model"):
            for depth in (None, 1, 2):
                query = f"?depth={depth}" if depth else ""
                data = get(api, f"/api/v1/lineage/{name}{query}")
                for side, downstream in (("upstream", False), ("downstream", True)):
                    expected = lineage.lineage(session, name, downstream=downstream,
                                               depth=depth)
                    assert data[side] == [n.to_dict() for n in expected], (name, depth, side)
    only_up = get(api, "/api/v1/lineage/user_clicks_30d?direction=upstream")
    assert "downstream" not in only_up
    get(api, "/api/v1/lineage/user_clicks_30d?direction=sideways", 400)
    get(api, "/api/v1/lineage/nothing_here", 404)


def test_impact_and_closure_agree_with_networkx(api: FlaskClient, catalog_url: str) -> None:
    with session_scope(session_factory(catalog_url)) as session:
        state = load_state(session)
    graph = build_catalog_graph(
        [FeatureInfo(name=n, created=datetime.fromisoformat(f["created"]), sources=f["sources"],
                     depends_on=f["depends_on"]) for n, f in state.features.items()],
        [SourceInfo(name=n, produced_by=s["produced_by"]) for n, s in state.sources.items()],
        [ConsumerInfo(name=n, features=c["features"], produces=c["produces"])
         for n, c in state.consumers.items()])
    for consumer in ("ctr_model", "fraud_model"):
        data = get(api, f"/api/v1/closure/{consumer}")
        reference = consumer_closure(graph, consumer)
        got = {t: sorted(n["name"] for n in data["nodes"] if n["type"] == t)
               for t in ("feature", "source")}
        assert got == {"feature": list(reference.features), "source": list(reference.sources)}
    data = get(api, "/api/v1/impact/warehouse.clicks")
    reference = {n.partition(":")[2] for n in nx.descendants(graph, "source:warehouse.clicks")}
    assert {n["name"] for n in data["nodes"]} == reference
    assert data["counts"]["consumer"] == 2


def test_sources_consumers_teams(api: FlaskClient) -> None:
    source = get(api, "/api/v1/sources/ctr_model.scores")
    assert source["produced_by"] == "ctr_model" and source["kind"] == "model_output"
    consumer = get(api, "/api/v1/consumers/fraud_model")
    assert [f["name"] for f in consumer["declared_features"]] == [
        "old_feature", "user_clicks_30d", "user_clicks_30d_copy"]
    assert consumer["declared_unread"] == ["user_clicks_30d_copy"]
    assert [v["features"] for v in consumer["config_versions"]] == [
        ["old_feature", "user_clicks_30d"],
        ["old_feature", "user_clicks_30d", "user_clicks_30d_copy"]]
    principal = get(api, f"/api/v1/consumers/{SLASH_PRINCIPAL}")
    assert not principal["registered"]
    assert {r["feature"] for r in principal["undeclared_reads"]} >= {"user_clicks_30d"}
    teams = get(api, "/api/v1/teams")
    assert [t["name"] for t in teams] == ["ads", "growth", "risk"]
    assert {t["name"]: t["features"] for t in teams} == {"ads": 1, "growth": 3, "risk": 61}
    team = get(api, "/api/v1/teams/growth")
    assert team["contact"] == "growth@example.com" and team["feature_count"] == 3


def test_consumer_graph_shows_its_undeclared_inputs(api: FlaskClient) -> None:
    data = get(api, "/api/v1/consumers/ctr_model")
    assert [r["feature"] for r in data["undeclared_reads"]] == ["user_clicks_30d"]
    edges = {(e["from"], e["to"]): e["kind"] for e in data["graph"]["edges"]}
    assert edges[("feature:user_clicks_30d", "consumer:ctr_model")] == "undeclared"
    assert edges[("feature:user_clicks_7d", "consumer:ctr_model")] == "declared"
    # only this consumer's undeclared reads: not other readers of the same features
    assert f"consumer:{XSS_PRINCIPAL}" not in {n["id"] for n in data["graph"]["nodes"]}


def test_consumer_changes(api: FlaskClient) -> None:
    diff = get(api, "/api/v1/consumers/fraud_model/changes")
    assert diff["added"] == ["user_clicks_30d_copy"] and diff["removed"] == []
    first = diff["versions"][0]["event_id"]
    reverse = get(api, f"/api/v1/consumers/fraud_model/changes?before="
                       f"{diff['after']['event_id']}&after={first}")
    assert reverse["removed"] == ["user_clicks_30d_copy"]
    get(api, "/api/v1/consumers/fraud_model/changes?after=999999", 404)


def test_findings_match_the_findings_service(api: FlaskClient, catalog_url: str) -> None:
    data = get(api, "/api/v1/findings?per_page=1000")
    with session_scope(session_factory(catalog_url)) as session:
        expected = [finding_to_dict(f) for f in list_findings(session)]
    assert sorted(data["items"], key=lambda f: f["id"]) == sorted(expected,
                                                                 key=lambda f: f["id"])
    severities = [f["severity"] for f in data["items"]]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    legacy = get(api, "/api/v1/findings?kind=legacy&owner=risk&per_page=5")
    assert legacy["pagination"]["total"] == 60 and len(legacy["items"]) == 5
    assert all(f["kind"] == "legacy" and f["owner"] == "risk" for f in legacy["items"])
    one = data["items"][0]
    assert get(api, f"/api/v1/findings/{one['id']}")["fingerprint"] == one["fingerprint"]


def test_graph_explorer_json(api: FlaskClient) -> None:
    whole = get(api, "/api/v1/graph?limit=500")
    assert not whole["truncated"]
    ids = {n["id"] for n in whole["nodes"]}
    assert {"feature:bulk_feature_000", "consumer:fraud_model", "source:ctr_model.scores",
            f"consumer:{SLASH_PRINCIPAL}"} <= ids
    small = get(api, "/api/v1/graph?limit=10")
    assert small["truncated"] and len(small["nodes"]) == 10 and small["available"] > 10
    ads = get(api, "/api/v1/graph?team=ads&depth=1")
    assert "consumer:ctr_model" in {n["id"] for n in ads["nodes"]}
    assert get(api, "/api/v1/graph?limit=500") == whole  # deterministic
    get(api, "/api/v1/graph?team=nobody", 404)


def test_reports_and_jobs_json(api: FlaskClient) -> None:
    for url in ("/api/v1/reports", "/api/v1/jobs"):
        data = get(api, url)
        assert data["items"] == [] and data["pagination"]["total"] == 0
    get(api, "/api/v1/reports/1", 404)


def test_errors_are_json_under_the_api(api: FlaskClient) -> None:
    data = get(api, "/api/v1/features/nope", 404)
    assert data["status"] == 404 and "nope" in data["message"]
    assert get(api, "/api/v1/no/such/endpoint", 404)["error"] == "Not Found"


@pytest.mark.postgres
def test_every_page_and_endpoint_works_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    build_catalog(pg_url, tmp_path)
    client = create_app({"DATABASE_URL": pg_url, "TESTING": True}).test_client()
    for url in ("/", "/features?q=clicks&sort=owner", "/features?finding=legacy&tag=bulk",
                "/features/user_clicks_7d", "/features/user_clicks_7d/usage.svg",
                "/features/user_clicks_7d/importance.svg", "/features/user_clicks_30d_copy",
                "/sources/warehouse.clicks", "/consumers/ctr_model",
                f"/consumers/{SLASH_PRINCIPAL}", "/consumers/fraud_model/changes", "/teams",
                "/teams/risk", "/graph", "/graph?team=ads", "/lineage/user_clicks_7d",
                "/findings?severity=warning", "/reports", "/jobs"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.data[:300])
    data = get(client, "/api/v1/features?q=clicks&per_page=500&sort=name")
    assert [i["name"] for i in data["items"]] == ["user_clicks_30d", "user_clicks_30d_copy",
                                                  "user_clicks_7d"]
    detail = get(client, "/api/v1/features/user_clicks_7d")
    assert detail["undeclared_readers"] == [XSS_PRINCIPAL]
    assert {r["consumer"]: round(r["share"], 6) for r in detail["importance_latest"]} == {
        "ctr_model": 0.2}


def test_catalog_features_is_the_features_listing_unpaged(api: FlaskClient) -> None:
    """/api/v1/catalog/features (the SDK's `list`) answers as /api/v1/features does, unpaged
    and by name: the same features for the same filters, the same fields where they overlap,
    and the whole description of which the listing shows the first line."""
    shared = ("name", "owner", "dtype", "status")
    filters = ["", "owner=risk", "status=deprecated", "tag=bulk", "finding=legacy",
               "finding=any&owner=growth", "q=clicks", "q=CLICKS%2030d", "q=bulk&tag=bulk"]
    for args in filters:
        page = get(api, f"/api/v1/features?{args}&sort=name&per_page=500")
        listing = get(api, f"/api/v1/catalog/features?{args}")
        assert [{k: i[k] for k in shared} for i in page["items"]] == [
            {k: i[k] for k in shared} for i in listing], args
        assert all(i["summary"] and i["summary"] in e["description"] or not e["description"]
                   for i, e in zip(page["items"], listing, strict=True)), args
    assert get(api, "/api/v1/catalog/features?search=clicks") == get(
        api, "/api/v1/catalog/features?q=clicks")
    get(api, "/api/v1/catalog/features?status=gone", 400)


def test_in_memory_search_gives_the_same_pages_as_sql(catalog_url: str) -> None:
    with session_scope(session_factory(catalog_url)) as session:
        index = FeatureSearchIndex.load(session)
        texts = ["", "clicks", "CLICKS 30d", "bulk feature 1", "harmless", "_", "%"]
        cases = [(q, "", "", "", "", sort) for q, sort in product(texts, CATALOG_SORTS)]
        cases += [(q, *filters, "-created") for q, *filters in product(
            ["", "feature"], ["", "risk"], ["", "active", "deprecated"], ["", "bulk"],
            ["", "legacy", "any"])]
        for q, owner, status, tag, finding, sort in cases:
            query = CatalogQuery(q=q, owner=owner, status=status, tag=tag, finding=finding,
                                 sort=sort, per_page=7, page=2)
            assert catalog_page(session, query, index) == catalog_page(session, query), query


def test_featreg_serve_answers_over_http(catalog_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    featreg = Path(sys.executable).with_name("featreg")
    server = subprocess.Popen([str(featreg), "--db", catalog_url, "serve", "--port", str(port),
                               "--threads", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/summary",
                                            timeout=5) as response:
                    summary = json.load(response)
                    server_header = response.headers.get("Server", "")
                break
            except OSError:
                assert time.monotonic() < deadline, "featreg serve did not answer"
                time.sleep(0.2)
        assert summary["totals"]["features"] == 65
        # gunicorn on Unix, waitress where there is no fork
        assert server_header.lower().startswith(("gunicorn", "waitress", "featreg"))
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()
