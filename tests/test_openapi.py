"""The OpenAPI description: it names every /api/v1 route the app serves (and no other), it is
served, and the app answers generated requests as it says (schemathesis, bounded examples):
documented status codes, content types and response shapes, and never a 5xx."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import admin_token
from featreg.web import create_app
from featreg.web.openapi import openapi_document, operations
from featreg.web.openapi_models import BODY_MODELS, REF_TEMPLATE, for_openapi_30
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select
from web_catalog import build_catalog

from registry.store import models as m
from registry.store.db import dispose_engine, session_factory, session_scope

MAX_EXAMPLES = 12
CHECKS_METHODS = {"GET", "PUT", "POST"}


@pytest.fixture(scope="module")
def catalog_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("openapi")
    shutil.copy(sqlite_template, folder / "featreg.db")
    url = f"sqlite:///{folder / 'featreg.db'}"
    build_catalog(url, folder)
    yield create_app({"DATABASE_URL": url, "TESTING": True, "DATA_DIR": str(folder / "data")})
    dispose_engine(url)


def _served_paths(rule: str) -> list[str]:
    """A Flask rule as OpenAPI paths: <int:id> → {id}; <any(a,b):x> → one path per choice."""
    paths = [rule]
    while (choice := re.search(r"<any\(([^)]*)\):[a-z_]+>", paths[0])) is not None:
        paths = [p.replace(choice.group(0), option.strip(), 1) for p in paths
                 for option in choice.group(1).split(",")]
    return [re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", r"{\1}", p) for p in paths]


def _documented_paths(op: dict[str, Any]) -> list[str]:
    """An operation's path, with path parameters that have an enum expanded (as Flask's any)."""
    paths = [op["path"]]
    for param in op["parameters"]:
        if param["in"] == "path" and "enum" in param["schema"]:
            token = "{" + param["name"] + "}"
            paths = [p.replace(token, value) for p in paths for value in param["schema"]["enum"]]
    return paths


def test_every_api_route_is_documented_and_nothing_else(catalog_app: Flask) -> None:
    served: set[tuple[str, str]] = set()
    for rule in catalog_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in set(rule.methods or ()) & (CHECKS_METHODS | {"DELETE", "PATCH"}):
                served.update((method, path) for path in _served_paths(rule.rule))
    documented = {(op["method"], path) for op in operations(openapi_document())
                  for path in _documented_paths(op)}
    assert served - documented == set(), "routes missing from web/openapi.yaml"
    assert documented - served == set(), "documented operations the app does not serve"


def test_the_description_is_served_and_has_a_reference_page(catalog_app: Flask) -> None:
    http = catalog_app.test_client()
    served = http.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == openapi_document()
    assert served.get_json()["openapi"].startswith("3.")
    page = http.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "/api/v1/lineage/batch" in text and "X-Featreg-Actor" in text
    scripts = re.findall(r"<script[^>]*>", text)
    assert all('src="/static/' in tag for tag in scripts)  # the app's own files, nothing inline
    assert "cdn" not in text.lower()


def test_the_reference_page_renders_markdown_schemas_and_examples(catalog_app: Flask) -> None:
    text = catalog_app.test_client().get("/api/docs").get_data(as_text=True)
    main = text[text.index("<main>"):text.index("</main>")]
    assert "`" not in main, "Markdown left unrendered"
    assert "<code>featreg token create</code>" in main
    for op in operations(openapi_document()):
        assert f'id="op-{op["id"]}"' in main
    assert 'id="schema-FeatureSpec"' in main and 'href="#schema-FeatureSpecInPath"' in main
    example = re.search(r'id="op-postFeature".*?<pre class="json">(.*?)</pre>', main, re.S)
    assert example and json.loads(html.unescape(example.group(1)))["dtype"] == "int"
    assert "<pre class=\"json\">" in main.split('id="op-graph"')[1].split("</section>")[0]


def test_request_bodies_are_the_models_that_validate_them() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for body, model in BODY_MODELS.items():
        generated = model.model_json_schema(ref_template=REF_TEMPLATE)
        for name, nested in generated.pop("$defs", {}).items():
            assert schemas[name] == for_openapi_30(nested)
        assert schemas[model.__name__] == for_openapi_30(generated)
        content = document["components"]["requestBodies"][body]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        model.model_validate(content["example"])  # the example is a valid body
    uses = {(method, op["requestBody"]["$ref"].rsplit("/", 1)[-1])
            for item in document["paths"].values() for method, op in item.items()
            if isinstance(op, dict) and "$ref" in op.get("requestBody", {})}
    for body in BODY_MODELS:
        assert ("post", body) in uses and ("put", f"{body}InPath") in uses


def test_openapi_30_dialect_of_pydantic_schemas() -> None:
    schema = {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "default": None,
              "properties": {"n": {"exclusiveMinimum": 0, "type": "number"},
                             "k": {"const": "x"},
                             "e": {"$ref": "#/components/schemas/E", "default": None}}}
    assert for_openapi_30(schema) == {
        "type": "string", "maxLength": 3, "nullable": True, "default": None,
        "properties": {"n": {"minimum": 0, "exclusiveMinimum": True, "type": "number"},
                       "k": {"enum": ["x"]},
                       "e": {"allOf": [{"$ref": "#/components/schemas/E"}], "default": None}}}


def test_operation_ids_are_unique_and_refs_resolve() -> None:
    document = openapi_document()
    ids = [op["operationId"] for item in document["paths"].values()
           for method, op in item.items() if method in ("get", "put", "post")]
    assert len(ids) == len(set(ids))

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref


def _real_path_parameters(app: Flask, path: str) -> dict[str, Any]:
    """Path parameters naming objects that exist (random names only ever reach the 404s)."""
    names = {"/api/v1/features/": "user_clicks_7d", "/api/v1/sources/": "warehouse.clicks",
             "/api/v1/consumers/": "ctr_model", "/api/v1/teams/": "growth",
             "/api/v1/lineage/": "user_clicks_7d", "/api/v1/impact/": "warehouse.clicks",
             "/api/v1/closure/": "ctr_model", "/api/v1/catalog/objects/": "ctr_model"}
    fixed: dict[str, Any] = {}
    if "{name}" in path:
        fixed["name"] = next((v for k, v in names.items() if path.startswith(k)), None)
    if "{finding_id}" in path:
        with session_scope(session_factory(app.config["DATABASE_URL"])) as session:
            fixed["finding_id"] = session.scalar(select(func.min(m.Finding.id)))
    return {k: v for k, v in fixed.items() if v is not None}


def test_the_app_answers_as_documented(catalog_app: Flask) -> None:
    """Every operation, MAX_EXAMPLES generated requests each (positive data; reads first), and
    again with path parameters naming real objects: the status code, content type and body
    match the description, and no request gets a 5xx.
    (Driven with Hypothesis directly: schemathesis' pytest plugin does not support pytest 9.)"""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", catalog_app)
    token = {"Authorization": f"Bearer {admin_token(catalog_app.config['DATABASE_URL'])}"}
    failures: dict[str, str] = {}
    all_operations = [result.ok() for result in schema.get_all_operations()]
    runs = []
    for operation in sorted(all_operations, key=lambda op: op.method != "get"):
        runs.append((operation, {}))
        real = _real_path_parameters(catalog_app, operation.path)
        if real:
            runs.append((operation, real))
    for operation, path_parameters in runs:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        @given(case=operation.as_strategy(GenerationMode.POSITIVE,
                                          path_parameters=path_parameters or None))
        def answers_as_documented(case: Any) -> None:
            # Writes refuse schema-valid input the schema cannot express (unknown owners,
            # references, a resolved finding): 400 is then right, so only reads must accept.
            excluded = [] if case.method == "GET" else [positive_data_acceptance]
            case.call_and_validate(excluded_checks=excluded,
                                   headers=None if case.method == "GET" else token)

        try:
            answers_as_documented()
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' check failures
            failures[f"{operation.label} {path_parameters}"] = str(exc)[:2000]
    assert len(all_operations) >= 40 and len(runs) >= 55
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
