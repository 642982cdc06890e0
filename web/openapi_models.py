"""The request bodies of the OpenAPI description, generated from the pydantic models that
validate them (`registry.catalog.spec`), so the description cannot drift from the validation.

Each model's JSON Schema (`model_json_schema`, its nested models hoisted next to it) is put into
``components/schemas`` under the model's name, and the request body of the same name refers to
it, with an example that the model accepts (a test holds both). An object registered under the
name in its URL (``PUT /api/v1/features/{name}``) may leave ``name`` out of the body: that body's
schema is the model's with ``name`` optional.

The document is OpenAPI 3.0, whose schemas are not quite JSON Schema: `for_openapi_30` writes
pydantic's ``anyOf: [X, {type: null}]`` as X with ``nullable: true``, ``const`` as a one-value
``enum``, numeric ``exclusiveMinimum``/``exclusiveMaximum`` as their 3.0 boolean forms and a
``$ref`` with other keywords beside it as an ``allOf`` of the reference.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from registry.catalog.spec import ConsumerSpec, FeatureSpec, SourceSpec, TeamSpec

REF_TEMPLATE = "#/components/schemas/{model}"

BODY_MODELS: dict[str, type[BaseModel]] = {
    "Team": TeamSpec, "Source": SourceSpec, "Feature": FeatureSpec, "Consumer": ConsumerSpec}
"""requestBodies name -> the model that validates that body."""

BODY_EXAMPLES: dict[str, dict[str, Any]] = {
    "Team": {"name": "growth", "contact": "growth@example.com",
             "description": "Growth and engagement"},
    "Source": {"name": "warehouse.clicks", "kind": "table", "owner": "growth",
               "description": "Raw click log", "freshness": "1d", "readiness": "B"},
    "Feature": {"name": "user_clicks_7d", "owner": "growth", "dtype": "int",
                "description": "Clicks by the user in the last 7 days.",
                "sources": ["warehouse.clicks"], "tags": ["ads"],
                "expect": {"min": 0, "max": 10000, "max_null_fraction": 0.01}},
    "Consumer": {"name": "ctr_model", "kind": "model", "owner": "ads", "stage": "production",
                 "features": ["user_clicks_7d"], "produces": ["ctr_model.scores"]},
}
"""An example body of each kind (each one valid for its model)."""


def for_openapi_30(node: Any) -> Any:
    """A JSON Schema (as pydantic writes it) in OpenAPI 3.0's dialect."""
    if isinstance(node, list):
        return [for_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: for_openapi_30(value) for key, value in node.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del out["anyOf"]
        out.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(key), int | float) and not isinstance(out.get(key), bool):
            out[bound], out[key] = out[key], True
    if "$ref" in out and len(out) > 1:  # 3.0 ignores whatever sits beside a $ref
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def model_schemas() -> dict[str, dict[str, Any]]:
    """components/schemas entries of every body model and the models nested in them."""
    schemas: dict[str, dict[str, Any]] = {}
    for model in BODY_MODELS.values():
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(for_openapi_30(schema.pop("$defs", {})))
        schemas[model.__name__] = for_openapi_30(schema)
    return schemas


def _named_in_path(schema_name: str, schema: dict[str, Any]) -> dict[str, Any]:
    relaxed = copy.deepcopy(schema)
    relaxed["required"] = [field for field in relaxed.get("required", []) if field != "name"]
    relaxed["title"] = f"{schema_name} (named in the URL)"
    return relaxed


def add_model_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the models' schemas and the request bodies that use them."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    generated = model_schemas()
    schemas.update(generated)
    bodies = components.setdefault("requestBodies", {})
    for body, model in BODY_MODELS.items():
        name = model.__name__
        schemas[f"{name}InPath"] = _named_in_path(name, generated[name])
        for suffix, described in (("", f"A {body.lower()}, validated by `{name}`"),
                                  ("InPath", f"A {body.lower()} named by the URL (`name` "
                                             f"may be left out), validated by `{name}`")):
            bodies[f"{body}{suffix}"] = {
                "required": True, "description": described,
                "content": {"application/json": {
                    "schema": {"$ref": REF_TEMPLATE.format(model=name + suffix)},
                    "example": BODY_EXAMPLES[body]}}}
    for item in document.get("paths", {}).values():
        put = item.get("put")
        ref = (put or {}).get("requestBody", {}).get("$ref", "")
        if ref.rsplit("/", 1)[-1] in BODY_MODELS:
            put["requestBody"] = {"$ref": ref + "InPath"}
    return document
