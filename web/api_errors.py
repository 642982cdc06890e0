"""Errors, request bodies and cross-site protection of the JSON write API and the OpenLineage
endpoint.

Errors (`registry.wire.error_payload`, the format the HTTP SDK turns back into the same
exceptions): ``{"error", "type", "message", "status", "problems"}`` with InvalidInput → 400 and
every problem listed, NotFound → 404, any other FeatregError → 400. Malformed bodies (not JSON,
a gzip stream that does not decompress) are 400, unknown content encodings 415, bodies over
`MAX_BODY_BYTES` (after decompression) 413.

Cross-site protection (these endpoints take no cookies, but a browser on the intranet could be
made to post to them by another site): JSON bodies must be sent as ``application/json`` (a
cross-site page cannot send that without a CORS preflight, which is never granted), and a
request whose ``Origin`` names another site is refused with 403.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, request

from registry.core.errors import FeatregError
from registry.wire import error_payload

MAX_BODY_BYTES = 64 * 2**20


def _featreg_error(exc: FeatregError) -> Response:
    status, body = error_payload(exc)
    response = jsonify(body)
    response.status_code = status
    return response


def _refuse_cross_site() -> None:
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.host):
        abort(403, description="cross-site requests to the API are refused")


def register_error_handlers(bp: Blueprint) -> None:
    """Answer Featreg errors raised in the blueprint's views in the wire format, and refuse
    cross-site requests."""
    bp.register_error_handler(FeatregError, _featreg_error)
    bp.before_request(_refuse_cross_site)


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        abort(400, description=f"the body is not valid gzip: {exc}")
    if len(out) > MAX_BODY_BYTES:
        abort(413, description=f"the body is larger than {MAX_BODY_BYTES} bytes uncompressed")
    if not inflater.eof:
        abort(400, description="the gzip body is truncated")
    return out


def request_bytes() -> bytes:
    """The request body, decompressed when sent with ``Content-Encoding: gzip``."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        abort(413, description=f"the body is larger than {MAX_BODY_BYTES} bytes")
    data = request.get_data(cache=False)
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _gunzip(data)
    if encoding != "identity":
        abort(415, description=f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    return data


def request_json() -> Any:
    """The decoded JSON body (Content-Type application/json; gzip allowed). 400 with the reason
    if it is not JSON."""
    if not request.is_json:  # application/json or any +json type
        abort(415, description="send the body as JSON with Content-Type: application/json")
    data = request_bytes()
    if not data.strip():
        abort(400, description="the request has no body: send a JSON document")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the body is not valid JSON: {exc}")


def request_object() -> dict[str, Any]:
    """The JSON body, which must be an object."""
    body = request_json()
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


def actor(body: Mapping[str, Any] | None = None) -> str:
    """What the audit trail records for this write: the token's identity, with the
    X-Featreg-Actor header (or the body's ``actor``) attached as a note (see web.auth)."""
    from .auth import actor as authenticated_actor

    return authenticated_actor(body)
