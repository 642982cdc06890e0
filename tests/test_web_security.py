"""Hostile names and documents never become markup or script; forms need our token; drawn
graphs and charts carry nothing executable."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import authorize
from featreg.web import create_app
from featreg.web.filters import plain_text, render_markdown
from featreg.web.graph_dot import build_dot
from featreg.web.graph_render import GraphRenderError, SvgRenderer, clean_svg
from flask import Flask
from flask.testing import FlaskClient
from web_catalog import (
    XSS_DESC,
    XSS_FEATURE_READ,
    XSS_PRINCIPAL,
    build_catalog,
    finding_id,
)

from registry.store import models as m
from registry.store.db import dispose_engine, session_factory, session_scope

HOSTILE_NAMES = [XSS_PRINCIPAL, XSS_FEATURE_READ, 'quote"s and \\back\\slashes\\',
                 "<<b>html-like</b>>", "{braces} [brackets] ; -> --", "line\nbreak",
                 "tab\there", "\\N \\G \\E \\L", "ünïcödé ✓"]


@pytest.fixture(scope="module")
def catalog_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("websec")
    shutil.copy(sqlite_template, folder / "featreg.db")
    url = f"sqlite:///{folder / 'featreg.db'}"
    build_catalog(url, folder)
    with session_scope(session_factory(url)) as session:
        session.add(m.WeeklyReport(
            week_start=date(2026, 3, 2), scope="team", team="growth",
            generated_at=datetime(2026, 3, 2, 8, tzinfo=UTC),
            period_start=datetime(2026, 2, 23, tzinfo=UTC), timezone="UTC",
            content={"title": XSS_PRINCIPAL},
            markdown=f"# Report\n\n{XSS_DESC}\n\n[x](javascript:alert(1))",
            html=f"<html><body><h1>Report</h1>{XSS_DESC}</body></html>"))
        session.add(m.WeeklyReport(
            week_start=date(2026, 2, 23), scope="team", team="growth",
            generated_at=datetime(2026, 2, 23, 8, tzinfo=UTC),
            period_start=datetime(2026, 2, 16, tzinfo=UTC), timezone="UTC", content={},
            markdown="# Older report", html="<p>older</p>"))
        started = datetime(2026, 3, 2, 6, tzinfo=UTC)
        session.add(m.JobRun(job="analysis", scheduled_for=started, trigger="schedule",
                             status="failed", claimed_at=started, started_at=started,
                             finished_at=started, error=f"Traceback: {XSS_DESC}",
                             summary=None, holder="h1", host="box", pid=1))
        session.add(m.JobRun(job="rollups", scheduled_for=started, trigger="manual",
                             status="succeeded", claimed_at=started, started_at=started,
                             finished_at=started, summary={"rows": 3}, holder="h1",
                             host="box", pid=1))
    yield url
    dispose_engine(url)


@pytest.fixture(scope="module")
def app(catalog_url: str) -> Flask:
    return create_app({"DATABASE_URL": catalog_url, "TESTING": True})


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return authorize(app.test_client(), app.config["DATABASE_URL"])  # type: ignore[no-any-return]


PAGES = ["/", "/features", "/features?q=%3Cscript%3E", "/features/user_clicks_7d",
         "/features/user_clicks_30d", "/sources/warehouse.clicks", "/consumers/ctr_model",
         f"/consumers/{quote(XSS_PRINCIPAL, safe='')}", "/teams/growth", "/graph",
         "/graph?team=growth", "/lineage/user_clicks_7d", "/findings",
         "/findings?kind=undeclared_consumer", "/reports", "/reports/1", "/jobs",
         f"/features/{quote(XSS_PRINCIPAL, safe='')}"]


@pytest.mark.parametrize("url", PAGES)
def test_no_page_contains_a_script_element(web: FlaskClient, url: str) -> None:
    response = web.get(url)
    assert response.status_code in (200, 404)
    html = response.get_data(as_text=True)
    # scripts only from the app's own files (graph pan and zoom...); nothing inline
    html = re.sub(r'<script src="/static/[\w-]+\.js" defer></script>', "", html)
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son\w+\s*=", html, re.IGNORECASE)  # no event handlers
    assert "javascript:" not in html.lower()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hostile_principal_is_shown_as_text(web: FlaskClient) -> None:
    escaped = "&lt;script&gt;alert(&#34;xss-principal&#34;)&lt;/script&gt;"
    feature = web.get("/features/user_clicks_7d").get_data(as_text=True)
    assert escaped in feature  # the readers table and the warning banner
    assert "&lt;script&gt;alert(&#34;xss-principal&#34;)&lt;/script&gt;" in \
        web.get("/findings?kind=undeclared_consumer").get_data(as_text=True)
    # in the drawn graph the name is SVG text, escaped by Graphviz
    graph = feature.index('class="graph"')  # the Graphviz drawing (charts come before it)
    svg = feature[feature.rindex("<svg", 0, graph):feature.index("</svg>", graph)]
    assert '&lt;script&gt;alert("xss-principal")&lt;/script&gt;' in svg
    page = web.get(f"/consumers/{quote(XSS_PRINCIPAL, safe='')}")
    assert page.status_code == 200 and escaped in page.get_data(as_text=True)


def test_markdown_is_rendered_and_sanitised(web: FlaskClient) -> None:
    html = web.get("/features/user_clicks_7d").get_data(as_text=True)
    docs = html[html.index('<article class="docs">'):html.index("</article>")]
    assert "<strong>last 7 days</strong>" in docs
    assert 'href="https://example.com/clicks"' in docs and 'rel="noopener' in docs
    assert "xss-desc" not in docs  # the script element and its text are gone
    assert not re.search(r"<[^>]+\son\w+\s*=", docs)  # no element keeps an event handler
    assert "<img" not in docs and "javascript" not in docs


@pytest.mark.parametrize("text", [XSS_DESC, '<a href="javascript:x()">a</a>',
                                  '<img src=x onerror="y()">', "<iframe src=//evil></iframe>",
                                  "[a](javascript:alert(1))", "<svg onload=alert(1)>",
                                  '<a href="data:text/html,<script>x</script>">d</a>'])
def test_render_markdown_strips_active_content(text: str) -> None:
    html = str(render_markdown(text)).lower()
    for marker in ("<script", "javascript:", "onerror", "onload", "<iframe", "data:text"):
        assert marker not in html
    assert "<" not in str(plain_text(text)).replace("&lt;", "")


def test_forms_need_the_token_and_our_origin(web: FlaskClient, catalog_url: str) -> None:
    fid = finding_id(catalog_url, "feedback_loop", "ctr_model")
    form = {"action": "acknowledge", "reason": "known"}
    assert web.post(f"/findings/{fid}/status", data=form).status_code == 400
    html = web.get(f"/findings/{fid}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    forged = web.post(f"/findings/{fid}/status", data={**form, "csrf_token": token.group(1)},
                      headers={"Origin": "https://evil.example"})
    assert forged.status_code == 400
    wrong = web.post(f"/findings/{fid}/status", data={**form, "csrf_token": "x" * 43})
    assert wrong.status_code == 400
    with session_scope(session_factory(catalog_url)) as session:
        assert session.get(m.Finding, fid).status == "open"  # nothing changed
    ok = web.post(f"/findings/{fid}/status", data={**form, "csrf_token": token.group(1)},
                  headers={"Origin": "http://localhost"})
    assert ok.status_code == 303
    assert web.post(f"/findings/{fid}/status",
                    data={"action": "acknowledge", "reason": " ",
                          "csrf_token": token.group(1)}).status_code == 400  # reason needed


def test_redirect_after_a_form_stays_on_this_site(web: FlaskClient, catalog_url: str) -> None:
    fid = finding_id(catalog_url, "undocumented", "old_feature")
    html = web.get(f"/findings/{fid}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    response = web.post(f"/findings/{fid}/status",
                        data={"action": "suppress", "reason": "r", "until": "2026-12-31",
                              "csrf_token": token.group(1), "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["Location"] == f"/findings/{fid}"


def test_hostile_names_in_graphs_render_and_stay_text(tmp_path: Path) -> None:
    nodes = [{"id": f"consumer:{name}", "type": "consumer", "name": name, "owner": name,
              "registered": False, "findings": ["undeclared_consumer"], "severity": "warning",
              "status": None, "loop": False} for name in HOSTILE_NAMES]
    nodes.append({"id": "feature:f", "type": "feature", "name": "f", "owner": "t",
                  "registered": True, "findings": [], "severity": None, "status": "active",
                  "loop": False})
    edges = [{"from": "feature:f", "to": n["id"], "kind": "undeclared", "loop": False}
             for n in nodes[:-1]]
    dot = build_dot({"nodes": nodes, "edges": edges, "focus": "feature:f"},
                    lambda kind, name: f"/{kind}s/{quote(name, safe='')}")
    svg = SvgRenderer(cache_size=4, cache_dir=tmp_path).render(dot)
    assert "<script" not in svg and "<b>" not in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    joined = "\n".join(texts)
    assert '&lt;script&gt;alert("xss-principal")&lt;/script&gt;' in joined
    assert "&lt;&lt;b&gt;html-like&lt;/b&gt;&gt;" in joined
    assert "\\N \\G \\E \\L" in joined  # escape sequences are not expanded
    assert list(tmp_path.glob("*.svg"))  # the on-disk cache holds it


def test_clean_svg_drops_scripts_handlers_and_foreign_links() -> None:
    dirty = ('<?xml version="1.0"?><!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" '
             'xmlns:xlink="http://www.w3.org/1999/xlink" onload="a()">'
             '<script>alert(1)</script><foreignObject><div>x</div></foreignObject>'
             '<a xlink:href="javascript:alert(1)"><text onclick="b()">t</text></a>'
             '<a xlink:href="https://evil.example/"><text>u</text></a>'
             '<a xlink:href="/features/x"><text>ok</text></a></svg>')
    clean = clean_svg(dirty)
    assert "script" not in clean and "foreignObject" not in clean
    assert "onload" not in clean and "onclick" not in clean
    assert "javascript" not in clean and "evil.example" not in clean
    assert 'xlink:href="/features/x"' in clean and ">ok</text>" in clean
    # CSS function names are case-insensitive: URL(...) loads as url(...) does
    styled = clean_svg('<svg xmlns="http://www.w3.org/2000/svg"><g style="fill:URL(https://'
                       'evil.example/x)"/><g style="fill:red"/></svg>')
    assert "evil.example" not in styled and "fill:red" in styled
    # what follows a removed element stays; an unknown entity is no SVG at all
    kept = clean_svg('<svg xmlns="http://www.w3.org/2000/svg"><text>a</text><script>x()'
                     '</script>b<foreignObject><script>y()</script></foreignObject></svg>')
    assert "script" not in kept and "x()" not in kept and "y()" not in kept
    assert "<text>a</text>b" in kept
    with pytest.raises(GraphRenderError):
        clean_svg('<svg xmlns="http://www.w3.org/2000/svg"><text>&boom;</text></svg>')


def test_reports_are_sanitised_and_their_html_sandboxed(web: FlaskClient) -> None:
    listing = web.get("/reports").get_data(as_text=True)
    assert 'href="/reports/1"' in listing and "2026-03-02" in listing
    page = web.get("/reports/1").get_data(as_text=True)
    assert "<h1>Report</h1>" in page and "xss-desc" not in page
    raw = web.get("/reports/1/page")
    csp = raw.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "script-src" not in csp and "default-src 'none'" in csp
    assert web.get("/api/v1/reports/1").get_json()["report"]["content"] == {
        "title": XSS_PRINCIPAL}


def test_json_is_served_as_json(web: FlaskClient) -> None:
    response = web.get(f"/api/v1/consumers/{quote(XSS_PRINCIPAL, safe='')}")
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["name"] == XSS_PRINCIPAL


def test_reports_are_browsable_week_by_week(web: FlaskClient) -> None:
    newest = web.get("/api/v1/reports/1").get_json()
    assert newest["previous"] == 2 and newest["next"] is None
    assert web.get("/api/v1/reports/2").get_json()["next"] == 1
    html = web.get("/reports/1").get_data(as_text=True)
    assert 'rel="prev" href="/reports/2"' in html
    listing = web.get("/api/v1/reports?team=growth").get_json()
    assert [r["id"] for r in listing["items"]] == [1, 2]
    assert "markdown" not in listing["items"][0]  # bodies only in the detail


def test_jobs_page_lists_runs_with_filters(web: FlaskClient) -> None:
    html = web.get("/jobs").get_data(as_text=True)
    assert "analysis" in html and "rollups" in html and "row-failed" in html
    assert "&lt;script&gt;" in html and "xss-desc" in html  # the error, as text
    failed = web.get("/api/v1/jobs?status=failed").get_json()
    assert [r["job"] for r in failed["items"]] == ["analysis"]
    assert failed["filters"] == {"status": "failed"}
    assert web.get("/api/v1/jobs?job=rollups").get_json()["items"][0]["summary"] == {"rows": 3}
