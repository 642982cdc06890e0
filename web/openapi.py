"""The OpenAPI description of /api/v1 (`web/openapi.yaml`), served as JSON at
``/api/v1/openapi.json``, and a small reference page at ``/api/docs`` rendered on the server
from the same document (no JavaScript, no CDN)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, render_template, request

api = Blueprint("openapi", __name__, url_prefix="/api")
SPEC_PATH = Path(__file__).with_name("openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")


WRITE_RESPONSES = {"401": {"$ref": "#/components/responses/Unauthorized"},
                   "403": {"$ref": "#/components/responses/Forbidden"}}


def _with_access_control(document: dict[str, Any]) -> dict[str, Any]:
    """Every write needs a bearer token (web.auth): declared here once for all of them."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer",
        "description": "An API token from `featreg token create` (openlineage-python: api_key)"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    components.setdefault("responses", {}).update({
        "Unauthorized": {"description": "No token, or not a valid one", **error},
        "Forbidden": {"description": "A revoked token, another team's object, or a request "
                                     "from another site", **error}})
    for item in document["paths"].values():
        for method in ("put", "post", "delete", "patch"):
            op = item.get(method)
            if op is not None:
                op["security"] = [{"bearer": []}]
                op["responses"] = {**op.get("responses", {}), **WRITE_RESPONSES}
    return document


@cache
def openapi_document() -> dict[str, Any]:
    """The parsed description (read once per process), with the writes' access control."""
    document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return _with_access_control(document)


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (one level is enough for the reference page)."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target
    return node


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation as a flat row for the reference page, in document order."""
    rows = []
    for path, item in document["paths"].items():
        shared = [resolve(document, p) for p in item.get("parameters", [])]
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = shared + [resolve(document, p) for p in op.get("parameters", [])]
            body = resolve(document, op.get("requestBody")) or {}
            rows.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tag": (op.get("tags") or [""])[0],
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": p.get("required", False),
                                "schema": p.get("schema", {})} for p in params],
                "body": sorted(body.get("content", {})),
                "responses": sorted(str(code) for code in op.get("responses", {})),
            })
    return rows


@api.get("/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


@api.get("/docs")
def docs() -> Response:
    document = openapi_document()
    if request.args.get("format") == "json":
        return jsonify(document)
    return Response(render_template("api_docs.html", info=document["info"],
                                    operations=operations(document)))
