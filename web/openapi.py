"""The OpenAPI description of /api/v1 (`web/openapi.yaml`, with the request bodies generated
from the pydantic models that validate them: `web.openapi_models`), served as JSON at
``/api/v1/openapi.json``, and a reference page at ``/api/docs`` rendered on the server from the
same document (Markdown through markdown + nh3; per endpoint its parameters, request and
response schemas with examples; no JavaScript, no CDN)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, render_template, request

from .openapi_docs import example_of, example_text, fields, ref_name, type_text
from .openapi_models import add_model_schemas

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
    return add_model_schemas(_with_access_control(_text_parameters_hold_no_nul(document)))


NO_NUL = "^[^\\x00]*$"
"""Every URL is refused with 400 when its path or a query argument holds a NUL (web.support):
the description says so on every free-text parameter."""


def _text_parameters_hold_no_nul(document: dict[str, Any]) -> dict[str, Any]:
    """Give each string parameter without its own pattern or values the pattern NO_NUL."""
    parameters = list(document.get("components", {}).get("parameters", {}).values())
    for item in document.get("paths", {}).values():
        for operation in [item, *(v for v in item.values() if isinstance(v, dict))]:
            parameters += [p for p in operation.get("parameters", []) if "$ref" not in p]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        if schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema):
            schema["pattern"] = NO_NUL
    return document


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (one level is enough for the reference page)."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target
    return node


def _content(document: dict[str, Any], content: dict[str, Any]) -> list[dict[str, Any]]:
    """Each media type of a request or response: its schema's type, fields and an example
    (JSON bodies only; text and images are named)."""
    shown = []
    for media, body in sorted(content.items()):
        schema = body.get("schema", {})
        row: dict[str, Any] = {"media": media, "type": type_text(schema),
                               "ref": ref_name(schema), "fields": [], "example": None}
        if media.endswith("json"):
            row["fields"] = fields(document, schema)
            example = body.get("example", example_of(document, schema))
            row["example"] = None if example is None else example_text(example)
        shown.append(row)
    return shown


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
            responses = {str(code): resolve(document, answer)
                         for code, answer in op.get("responses", {}).items()}
            rows.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tag": (op.get("tags") or [""])[0],
                "id": op.get("operationId") or f"{method}-{path}",
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": p.get("required", False),
                                "description": p.get("description", ""),
                                "type": type_text(p.get("schema", {})),
                                "schema": p.get("schema", {})} for p in params],
                "body": sorted(body.get("content", {})),
                "request": _content(document, body.get("content", {})),
                "request_description": body.get("description", ""),
                "responses": sorted(responses),
                "answers": [{"code": code, "description": answer.get("description", ""),
                             "content": _content(document, answer.get("content", {}))}
                            for code, answer in sorted(responses.items())],
                "secured": bool(op.get("security")),
            })
    return rows


def schema_sections(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every named schema with its fields, for the page's Schemas part."""
    schemas = document.get("components", {}).get("schemas", {})
    return [{"name": name, "type": type_text(schema), "fields": fields(document, schema),
             "description": schema.get("description", "")}
            for name, schema in sorted(schemas.items())]


@api.get("/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


@api.get("/docs")
def docs() -> Response:
    document = openapi_document()
    if request.args.get("format") == "json":
        return jsonify(document)
    ops = operations(document)
    tags = [{"name": tag["name"], "description": tag.get("description", ""),
             "operations": [op for op in ops if op["tag"] == tag["name"]]}
            for tag in document.get("tags", [])]
    known = {tag["name"] for tag in tags}
    others = [op for op in ops if op["tag"] not in known]
    if others:
        tags.append({"name": "other", "description": "", "operations": others})
    return Response(render_template("api_docs.html", info=document["info"], tags=tags,
                                    schemas=schema_sections(document)))
