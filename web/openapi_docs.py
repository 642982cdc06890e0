"""What the API reference page (/api/docs) shows of a schema: its fields as table rows, a
one-line type, and an example (the document's own, or one made from the schema)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 4
FORMAT_EXAMPLES = {"date-time": "2026-11-01T12:00:00Z", "date": "2026-11-01",
                   "email": "team@example.com", "uri": "https://example.com/"}


def ref_name(schema: Any) -> str | None:
    """The components/schemas name a schema refers to, if it is a reference."""
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return None


def _target(document: dict[str, Any], schema: Any) -> Any:
    name = ref_name(schema)
    if name is None:
        return schema
    return document.get("components", {}).get("schemas", {}).get(name, {})


def type_text(schema: Any) -> str:
    """A short type: ``string (date-time)``, ``array of Feature``, ``one of: table | file``."""
    if not isinstance(schema, dict):
        return "any"
    name = ref_name(schema)
    if name is not None:
        return name
    for key in ("allOf", "oneOf", "anyOf"):
        if key in schema:
            joiner = " and " if key == "allOf" else " or "
            return joiner.join(type_text(option) for option in schema[key])
    kind = str(schema.get("type", "object" if "properties" in schema else "any"))
    if kind == "array":
        kind = f"array of {type_text(schema.get('items', {}))}"
    elif "format" in schema:
        kind = f"{kind} ({schema['format']})"
    if schema.get("nullable"):
        kind += " or null"
    return kind


def _details(schema: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + " | ".join(json.dumps(v) for v in schema["enum"]))
    for key, word in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"),
                      ("maxLength", "length ≤"), ("pattern", "matches")):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "default" in schema and schema["default"] not in (None, [], ""):
        parts.append(f"default {json.dumps(schema['default'])}")
    return "; ".join(parts)


def fields(document: dict[str, Any], schema: Any) -> list[dict[str, Any]]:
    """The rows of an object schema (through one reference): name, type, required, details,
    description."""
    target = _target(document, schema)
    if not isinstance(target, dict):
        return []
    for option in target.get("allOf", []):
        if "properties" in _target(document, option):
            return fields(document, option)
    required = set(target.get("required", []))
    return [{"name": name, "type": type_text(prop), "required": name in required,
             "details": _details(prop) if isinstance(prop, dict) else "",
             "description": (prop.get("description") or "") if isinstance(prop, dict) else ""}
            for name, prop in target.get("properties", {}).items()]


def example_of(document: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """An example value of a schema: its ``example``, else one made from types and enums."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "example" in schema:
        return schema["example"]
    if ref_name(schema) is not None:
        return example_of(document, _target(document, schema), depth + 1)
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            merged: Any = None
            for option in schema[key] if key == "allOf" else schema[key][:1]:
                value = example_of(document, option, depth + 1)
                merged = {**merged, **value} if isinstance(merged, dict) and isinstance(
                    value, dict) else value
            return merged
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] not in (None, [], ""):
        return schema["default"]
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        return {name: example_of(document, prop, depth + 1)
                for name, prop in schema.get("properties", {}).items()
                if name in schema.get("required", []) or depth < 2}
    if kind == "array":
        item = example_of(document, schema.get("items", {}), depth + 1)
        return [] if item is None else [item]
    simple = {"string": FORMAT_EXAMPLES.get(schema.get("format", ""), "string"),
              "integer": 1, "number": 0.5, "boolean": True}
    return simple.get(str(kind))


def example_text(value: Any) -> str:
    """An example as indented JSON for the page."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
