"""Web inputs that used to be taken silently or misused: redirects after a form stay on this
site whatever `next` says, and an unknown findings filter is a 400 naming the allowed values."""

from __future__ import annotations

import re

import pytest
from conftest import authorize
from flask import Flask
from sqlalchemy import select

from registry.store import models as m
from registry.store.db import session_factory, session_scope


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example",
                                    "https://evil.example/", "/\x7f/evil.example"])
def test_a_form_never_redirects_to_another_site(app: Flask, catalog_url: str,
                                                target: str) -> None:
    web = authorize(app.test_client(), catalog_url)
    with session_scope(session_factory(catalog_url)) as session:
        finding = session.scalars(select(m.Finding.id).where(m.Finding.status == "open")).first()
    page = web.get(f"/findings/{finding}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = web.post(f"/findings/{finding}/status", data={
        "csrf_token": token.group(1), "action": "reopen", "reason": "r", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/findings/{finding}"


def test_an_unknown_findings_filter_is_a_400_naming_the_allowed_values(app: Flask) -> None:
    web = app.test_client()
    for path in ("/findings?status=opne", "/api/v1/findings?status=opne"):
        response = web.get(path)
        assert response.status_code == 400, path
        assert "acknowledged" in response.get_data(as_text=True)
    assert web.get("/api/v1/findings?severity=huge").status_code == 400
    assert web.get("/api/v1/findings?status=all").status_code == 200


HOSTILE_URLS = [
    "/history?actor=%00x", "/history?name=a%00", "/search?q=%00", "/sources?q=%00",
    "/features?q=%00", "/graph?focus=%00", "/lineage/a%00b", "/impact/a%00", "/closure/a%00",
    "/consumers/a%00", "/api/v1/openlineage/consumers/a%00", "/api/v1/search?q=a&kind=%00",
]
LONG = "a" * 100_000


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_nul_and_huge_query_text_get_clear_answers_on_both_databases(
        request: pytest.FixtureRequest, backend: str) -> None:
    """A NUL anywhere in the URL is a 400 naming it (PostgreSQL text cannot hold one); a
    100,000-character filter is cut to its first 200 characters, not a 500 ("LIKE pattern too
    complex"); a date filter at the end of the calendar does not overflow."""
    from featreg.web import create_app

    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    web = create_app({"DATABASE_URL": url, "TESTING": True}).test_client()
    for path in HOSTILE_URLS:
        answer = web.get(path)
        assert answer.status_code == 400, path
        assert "NUL" in answer.get_data(as_text=True), path
    for path in (f"/history?actor={LONG}", f"/history?name={LONG}", f"/principals?q={LONG}",
                 f"/sources?q={LONG}", "/history?since=0001-01-01&until=9999-12-31",
                 "/api/v1/history?until=9999-12-31"):
        assert web.get(path).status_code == 200, path[:60]
