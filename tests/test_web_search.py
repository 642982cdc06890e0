"""Search over every kind (features, sources, consumers, teams, unregistered readers): the
search page, its JSON twin, and the catalog page the header's search box opens."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_catalog import SLASH_PRINCIPAL, XSS_PRINCIPAL

import registry


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return app.test_client()


def found(web: FlaskClient, query: str, **args: str) -> dict[str, list[str]]:
    data = web.get("/api/v1/search", query_string={"q": query, **args}).get_json()
    return {g["kind"]: [i["name"] for i in g["items"]] for g in data["groups"]}


@pytest.mark.parametrize(("query", "kind", "name", "url"), [
    ("user_clicks_7d", "feature", "user_clicks_7d", "/features/user_clicks_7d"),
    ("warehouse", "source", "warehouse.clicks", "/sources/warehouse.clicks"),
    ("fraud", "consumer", "fraud_model", "/consumers/fraud_model"),
    ("RISK", "team", "risk", "/teams/risk"),
    ("nightly", "principal", SLASH_PRINCIPAL, "/consumers/airflow/nightly_export"),
])
def test_search_finds_each_kind_by_name(web: FlaskClient, query: str, kind: str, name: str,
                                        url: str) -> None:
    data = web.get("/api/v1/search", query_string={"q": query}).get_json()
    group = next(g for g in data["groups"] if g["kind"] == kind)
    first = group["items"][0]
    assert (first["name"], first["type"], first["url"]) == (name, kind, url)
    html = web.get("/search", query_string={"q": query}).get_data(as_text=True)
    assert f'class="search-hit" href="{url}"' in html
    catalog = web.get("/features", query_string={"q": query}).get_data(as_text=True)
    assert f'href="{url}"' in catalog  # what the header's search box opens


def test_results_are_grouped_by_kind_best_match_first(web: FlaskClient) -> None:
    groups = found(web, "clicks")
    assert list(groups) == ["feature", "source"]
    assert groups["feature"][:3] == ["user_clicks_30d", "user_clicks_30d_copy",
                                     "user_clicks_7d"]
    assert groups["source"] == ["warehouse.clicks"]
    assert list(found(web, "model")) == ["source", "consumer"]  # no feature names a model
    assert found(web, "ctr_model")["consumer"][0] == "ctr_model"  # exact name first
    assert list(found(web, "model", kind="consumer")) == ["consumer"]
    assert found(web, "   ") == {} and found(web, "zzz-nothing") == {}


def test_registered_consumers_are_not_listed_as_unregistered_readers(web: FlaskClient) -> None:
    assert "principal" not in found(web, "ctr_model")


def test_search_pages_escape_hostile_names(web: FlaskClient) -> None:
    html = web.get("/search?q=script").get_data(as_text=True)
    assert XSS_PRINCIPAL not in html and "&lt;script&gt;alert" in html
    assert found(web, "script")["principal"] == [XSS_PRINCIPAL]


def test_a_new_source_is_found_right_after_it_is_registered(web: FlaskClient,
                                                            catalog_url: str) -> None:
    assert "source" not in found(web, "brand_new_stream")
    client = registry.connect(catalog_url, actor="tester")
    client.register_source("brand_new_stream", kind="stream", owner="ads")
    assert found(web, "brand_new_stream")["source"] == ["brand_new_stream"]


def test_the_search_page_links_to_every_match_of_a_kind(web: FlaskClient) -> None:
    html = web.get("/search?q=bulk").get_data(as_text=True)
    assert len(re.findall(r'class="search-hit" href="/features/', html)) == 10
    assert 'href="/features?q=bulk">all 60 features' in html
