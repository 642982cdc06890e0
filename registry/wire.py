"""The HTTP wire format shared by the web API (`featreg.web`) and the SDK's HTTP transport.

A plan is `plan_to_dict`; an error response is a JSON object
``{"error", "type", "message", "status", "problems": [{"message", "file", "line", "field"}]}``
(`error_payload`), where ``type`` names the exception class; `raise_for_error` turns it back
into the same exception. The actor of a write travels in the `ACTOR_HEADER` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, NoReturn

from registry.catalog.plan import FieldChange, ObjectChange, Plan
from registry.core.errors import (
    Conflict,
    FeatregError,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    SchemaOutdated,
    Unauthenticated,
)

__all__ = ["ACTOR_HEADER", "error_payload", "plan_from_dict", "plan_to_dict", "raise_for_error"]

ACTOR_HEADER = "X-Featreg-Actor"
ERROR_TYPES: dict[str, type[FeatregError]] = {
    cls.__name__: cls for cls in (FeatregError, InvalidInput, NotFound, SchemaOutdated,
                                  Unauthenticated, Forbidden, Conflict)
}
STATUS: dict[type[FeatregError], int] = {
    NotFound: 404, SchemaOutdated: 503, Unauthenticated: 401, Forbidden: 403, Conflict: 409}
TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          503: "Service unavailable"}



def plan_to_dict(plan: Plan, changeset: int | None = None) -> dict[str, Any]:
    """A plan as JSON: summary, counts and every change with its field changes."""
    return {
        "summary": plan.summary(),
        "counts": plan.counts(),
        "changeset": changeset,
        "changes": [
            {"action": c.action, "kind": c.kind, "type": c.object_type, "name": c.name,
             "changes": [{"field": f.field, "old": f.old, "new": f.new} for f in c.changes],
             "before": c.before, "after": c.after}
            for c in plan.changes
        ],
    }


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """The `Plan` value of `plan_to_dict` (without `desired`, which stays on the server)."""
    return Plan(changes=[
        ObjectChange(c["action"], c["kind"], c["name"],
                     tuple(FieldChange(f["field"], f["old"], f["new"]) for f in c["changes"]),
                     c.get("before"), c.get("after"))
        for c in data["changes"]
    ])


def error_payload(exc: FeatregError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of an error: Unauthenticated 401, Forbidden 403, NotFound 404,
    Conflict 409, SchemaOutdated 503, InvalidInput and any other FeatregError 400 (``type``
    tells them apart)."""
    status = next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 400)
    kind = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in ERROR_TYPES),
                "FeatregError")
    problems = [asdict(p) for p in getattr(exc, "problems", [])]
    title = "Invalid input" if isinstance(exc, InvalidInput) else TITLES.get(status, "Bad request")
    return status, {"error": title, "type": kind,
                    "message": str(exc), "status": status, "problems": problems}


def raise_for_error(status: int, body: Any) -> NoReturn:
    """Raise the error an error response stands for (the inverse of `error_payload`)."""
    data = body if isinstance(body, dict) else {}
    message = str(data.get("message") or data.get("error") or f"HTTP {status}")
    kind = ERROR_TYPES.get(str(data.get("type")))
    if kind is InvalidInput:
        raise InvalidInput([Problem(**p) for p in data.get("problems") or []])
    if kind is None:
        kind = {401: Unauthenticated, 403: Forbidden, 404: NotFound,
                409: Conflict}.get(status, FeatregError)
    raise kind(message)
