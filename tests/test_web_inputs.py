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
