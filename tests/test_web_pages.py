"""Every HTML page of the web UI on the fixture catalog: status, key content, filters in URLs."""

from __future__ import annotations

import re

import pytest
from conftest import authorize
from flask import Flask
from flask.testing import FlaskClient
from web_catalog import SLASH_PRINCIPAL, XSS_PRINCIPAL, finding_id


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return authorize(app.test_client(), app.config["DATABASE_URL"])  # type: ignore[no-any-return]


def page(web: FlaskClient, url: str, status: int = 200) -> str:
    response = web.get(url)
    assert response.status_code == status, (url, response.data[:500])
    if status == 200:
        assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_home_shows_totals_findings_and_recent_changes(web: FlaskClient) -> None:
    html = page(web, "/")
    assert re.search(r"<b>65</b><span>features</span>", html)
    assert "Open findings by kind" in html and "undeclared consumer" in html
    assert 'href="/teams/risk"' in html  # findings by team link to the team
    assert "fixture catalog" in html  # the change set label of the batch
    assert "No weekly report yet." in html


def test_catalog_lists_pages_and_keeps_filters_in_links(web: FlaskClient) -> None:
    html = page(web, "/features?tag=bulk&per_page=25")
    assert "60 features" in html
    assert html.count('class="feature-link"') == 25
    assert 'href="/features?tag=bulk&amp;per_page=25&amp;page=2"' in html
    last = page(web, "/features?tag=bulk&per_page=25&page=3")
    assert last.count('class="feature-link"') == 10


def test_catalog_search_ranks_name_matches_first(web: FlaskClient) -> None:
    html = page(web, "/features?q=clicks")
    names = re.findall(r'class="feature-link" href="/features/([^"]+)"', html)
    assert names[:3] == ["user_clicks_30d", "user_clicks_30d_copy", "user_clicks_7d"]
    assert "matching “clicks”" in html
    assert page(web, "/features?q=harmless").count('class="feature-link"') == 1  # description


def test_catalog_filters_by_owner_status_and_finding_kind(web: FlaskClient) -> None:
    names = re.findall(r'class="feature-link" href="/features/([^"]+)"',
                       page(web, "/features?status=deprecated"))
    assert names == ["old_feature"]
    names = re.findall(r'class="feature-link" href="/features/([^"]+)"',
                       page(web, "/features?finding=correlated"))
    assert names == ["user_clicks_30d_copy"]
    html = page(web, "/features?owner=ads")
    assert re.findall(r'class="feature-link" href="/features/([^"]+)"', html) == [
        "ctr_score_feature"]
    assert '<option value="ads" selected>' in html


def test_feature_page_shows_docs_graph_readers_charts_and_history(web: FlaskClient) -> None:
    html = page(web, "/features/user_clicks_7d")
    assert "<h2>Clicks in 7 days</h2>" in html  # Markdown rendered
    assert "<strong>last 7 days</strong>" in html
    assert "<svg" in html and 'href="/features/user_clicks_30d"' in html  # clickable graph
    assert 'href="/sources/warehouse.clicks"' in html
    assert "Undeclared readers" in html and "⚠ undeclared" in html
    assert 'src="/features/user_clicks_7d/usage.svg"' in html
    assert 'src="/features/user_clicks_7d/importance.svg"' in html
    assert "alice" in html and "create" in html  # audit history


def test_feature_graph_depth_and_direction_come_from_the_url(web: FlaskClient) -> None:
    upstream = page(web, "/features/user_clicks_30d?direction=upstream&depth=1")
    assert 'href="/sources/warehouse.clicks"' in upstream
    assert 'href="/consumers/fraud_model"' not in upstream.split("Who reads it")[0]
    downstream = page(web, "/features/user_clicks_30d?direction=downstream&depth=1")
    assert 'href="/consumers/fraud_model"' in downstream.split("Who reads it")[0]
    assert '<option value="downstream" selected>' in downstream


def test_deprecated_feature_shows_banner_and_findings_with_actions(web: FlaskClient) -> None:
    html = page(web, "/features/old_feature")
    assert "This feature is <b>deprecated</b>" in html and "sunset 2026-06-30" in html
    assert 'href="/features/user_clicks_30d"' in html
    assert "deprecated in use" in html and "undocumented" in html
    assert 'name="csrf_token"' in html and 'value="acknowledge"' in html


def test_feature_charts_are_matplotlib_svg(web: FlaskClient) -> None:
    for chart in ("usage", "importance"):
        response = web.get(f"/features/user_clicks_7d/{chart}.svg")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        svg = response.get_data(as_text=True)
        assert svg.startswith("<svg") and "Matplotlib" in svg
        assert "<script" not in svg
    usage = web.get("/features/user_clicks_7d/usage.svg").get_data(as_text=True)
    assert "ctr_model" in usage and "(undeclared)" in usage
    assert web.get("/features/user_clicks_7d/usage.svg").get_data() == \
        web.get("/features/user_clicks_7d/usage.svg").get_data()


def test_correlated_partners_on_feature_page(web: FlaskClient) -> None:
    html = page(web, "/features/user_clicks_30d_copy")
    section = html.split("Correlated features")[1].split("</table>")[0]
    assert 'href="/features/user_clicks_30d"' in section and "fixture-snapshot" in section


def test_source_page_shows_impact(web: FlaskClient) -> None:
    html = page(web, "/sources/warehouse.clicks")
    impact = html.split("Impact: what depends on it")[1].split("<h2>Graph</h2>")[0]
    for name in ("user_clicks_7d", "user_clicks_30d", "old_feature", "ctr_model",
                 "fraud_model"):
        assert f">{name}</a>" in impact


def test_consumer_page_declared_reads_closure_and_changes(web: FlaskClient) -> None:
    html = page(web, "/consumers/ctr_model")
    assert "Declared features (2)" in html
    assert "Everything it depends on" in html and 'href="/sources/ctr_model.scores"' in html
    assert "feedback loop" in html
    assert "Configuration changes" not in html or "has not changed" in html
    fraud = page(web, "/consumers/fraud_model")
    assert 'action="/consumers/fraud_model/changes"' in fraud


def test_consumer_configuration_diff_side_by_side(web: FlaskClient) -> None:
    html = page(web, "/consumers/fraud_model/changes")
    assert "<b>1</b> added, <b>0</b> removed" in html
    assert re.search(r'class="diff-added">\s*<td></td>\s*<td><a href="/features/'
                     r'user_clicks_30d_copy"', html)
    assert 'class="diff-kept"' in html


def test_unregistered_principal_gets_a_warning_page(web: FlaskClient) -> None:
    html = page(web, f"/consumers/{SLASH_PRINCIPAL}")
    assert "is not a registered consumer" in html
    assert 'href="/features/user_clicks_30d"' in html


def test_team_pages(web: FlaskClient) -> None:
    teams = page(web, "/teams")
    assert 'href="/teams/growth"' in teams and "growth@example.com" in teams
    html = page(web, "/teams/risk")
    assert "<b>61</b><span>features</span>" in html  # 60 bulk + old_feature
    assert 'href="/consumers/fraud_model"' in html and "legacy" in html
    assert "Weekly reports are not set up" in html or "No reports yet." in html


def test_graph_explorer_whole_catalog_and_team(web: FlaskClient) -> None:
    html = page(web, "/graph")
    assert "<svg" in html and "nodes" in html
    team = page(web, "/graph?team=ads&depth=1")
    assert 'href="/consumers/ctr_model"' in team
    small = page(web, "/graph?limit=10")
    assert "Show more" in small and "limit=20" in small


def test_lineage_page(web: FlaskClient) -> None:
    html = page(web, "/lineage/user_clicks_7d?direction=downstream&depth=2")
    assert "Downstream" in html and 'href="/consumers/ctr_model"' in html


def test_findings_page_filters(web: FlaskClient) -> None:
    html = page(web, "/findings?kind=undeclared_consumer")
    assert "3 findings" in html and SLASH_PRINCIPAL in html
    listed = re.findall(r'class="badge kind-(\w+)" href="/findings/\d+"', html)
    assert listed == ["undeclared_consumer"] * 3
    critical = page(web, "/findings?severity=critical")
    assert "0 findings" in critical


def test_finding_detail_and_status_change_round_trip(web: FlaskClient, catalog_url: str) -> None:
    fid = finding_id(catalog_url, "undocumented", "old_feature")
    html = page(web, f"/findings/{fid}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    response = web.post(f"/findings/{fid}/status",
                        data={"csrf_token": token.group(1), "action": "acknowledge",
                              "reason": "docs are being written", "next": "/features/old_feature"})
    assert response.status_code == 303 and response.headers["Location"] == "/features/old_feature"
    after = page(web, f"/findings/{fid}")
    assert "finding-status-acknowledged" in after and "docs are being written" in after
    response = web.post(f"/findings/{fid}/status",
                        data={"csrf_token": token.group(1), "action": "reopen",
                              "reason": "not really"})
    assert response.status_code == 303
    assert "finding-status-open" in page(web, f"/findings/{fid}")


def test_reports_and_jobs_pages_render_without_rows(web: FlaskClient) -> None:
    assert "weekly report" in page(web, "/reports").lower()
    assert "job" in page(web, "/jobs").lower()


def test_unknown_objects_are_404_pages(web: FlaskClient) -> None:
    assert "no feature named" in page(web, "/features/nope", 404)
    page(web, "/sources/nope", 404)
    page(web, "/teams/nope", 404)
    page(web, "/consumers/nope", 404)
    page(web, "/findings/999999", 404)
    page(web, "/reports/999999", 404)


def test_every_page_offers_its_json_twin(web: FlaskClient) -> None:
    html = page(web, "/features?q=clicks")
    assert 'href="/features?q=clicks&amp;format=json"' in html
    data = web.get("/features?q=clicks&format=json").get_json()
    assert [i["name"] for i in data["items"]][:1] == ["user_clicks_30d"]
    assert XSS_PRINCIPAL in str(web.get("/findings?format=json").get_json())
