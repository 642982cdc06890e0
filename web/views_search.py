"""Search over every kind: features, sources, consumers, teams and unregistered readers,
grouped by kind (`/search?q=`, `/api/v1/search?q=`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from registry.read.directory import KINDS, search_everything

from .filters import object_url
from .support import API_PREFIX, db, respond, wants_json
from .views_catalog import search_index
from .views_lists import directory

bp = Blueprint("search", __name__)
api = Blueprint("search_api", __name__, url_prefix=API_PREFIX)


def _with_urls(found: dict[str, Any]) -> dict[str, Any]:
    """Each item with the path of its page (an unregistered reader's is the consumer page)."""
    for group in found["groups"]:
        for item in group["items"]:
            kind = "consumer" if item["type"] == "principal" else item["type"]
            item["url"] = object_url(kind, item["name"])
    return found


@bp.get("/search")
@api.get("/search")
def search() -> Response:
    kind = request.args.get("kind", "")
    found = search_everything(search_index(db())[1], directory(fresh=wants_json())[1],
                              request.args.get("q", ""), kind=kind if kind in KINDS else "")
    return respond("search.html", _with_urls(found) if wants_json() else found)
