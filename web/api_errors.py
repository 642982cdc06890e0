"""Errors, request bodies and cross-site protection of the JSON write API and the OpenLineage
endpoint.

Errors (`registry.wire.error_payload`, the format the HTTP SDK turns back into the same
exceptions): ``{"error", "type", "message", "status", "problems"}`` with InvalidInput → 400 and
every problem listed, NotFound → 404, any other FeatregError → 400. Malformed bodies (not JSON,
a gzip stream that does not decompress) are 400, unknown content encodings 415, bodies over
`MAX_BODY_BYTES` (after decompression) 413, JSON nested deeper than `MAX_JSON_DEPTH` 400, and
a string holding a NUL or a lone surrogate (text no database can store) 400 naming the field.

Cross-site protection (these endpoints take no cookies, but a browser on the intranet could be
made to post to them by another site): JSON bodies must be sent as ``application/json`` (a
cross-site page cannot send that without a CORS preflight, which is never granted), and a
request whose ``Origin`` names another site is refused with 403.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, request

from registry.core.errors import FeatregError, InvalidInput, Problem
from registry.core.names import text_problem
from registry.wire import error_payload

MAX_BODY_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused (400): no Featreg body needs more,
and deeper ones would exhaust the stack of whatever walks them."""


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
        body = json.loads(data)
        too_deep = _nested_deeper_than(body, MAX_JSON_DEPTH)
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the body is not valid JSON: {exc}")
    except RecursionError:  # deeper than the decoder's own stack
        too_deep = True
    if too_deep:
        abort(400, description=f"the body nests arrays and objects more than {MAX_JSON_DEPTH} "
                               "levels deep")
    if _SUSPECT_TEXT.search(data) and (problem := _unstorable_text(body)):
        raise InvalidInput([Problem(problem[1], field=problem[0])])
    return body


_SUSPECT_TEXT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")
"""JSON escapes of a NUL or a UTF-16 surrogate: only a body holding one is searched for text
that cannot be stored (a NUL, which PostgreSQL refuses, or a lone surrogate)."""


def _unstorable_text(value: Any) -> tuple[str, str] | None:
    """(where, why) for the first string (key or value) that cannot be stored, or None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if problem := text_problem(item, f"field {where or 'body'!r}"):
                return where or "body", problem
        elif isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                if problem := text_problem(key, f"a key of {where or 'the body'!r}"):
                    return where or "body", problem
                stack.append((child, path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (checked without recursion, so
    the check cannot itself run out of stack)."""
    if type(value) is not dict and type(value) is not list:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def request_object() -> dict[str, Any]:
    """The JSON body, which must be an object."""
    body = request_json()
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body
