"""Form protection for the UI's POST forms: a per-session token plus a same-origin check.

The token lives in Flask's signed session cookie (SameSite=Lax) and in a hidden field of every
form; a POST whose field does not match, or whose Origin/Referer names another site, is
refused with 400. The JSON write API is not a form and is not covered here.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, request, session

FIELD = "csrf_token"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def _same_origin() -> bool:
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed or claimed == "null":
        return claimed is None
    parts = urlsplit(claimed)
    return (parts.scheme, parts.netloc) == (request.scheme, request.host)


def check_form() -> None:
    """Abort with 400 unless this POST came from one of our own forms."""
    expected = session.get(FIELD)
    sent = request.form.get(FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        abort(400, description="The form expired or did not come from this site; reload the "
                               "page and try again.")
    if not _same_origin():
        abort(400, description="Cross-site form submissions are refused.")


def init_app(app: Flask) -> None:
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.jinja_env.globals["csrf_token"] = csrf_token
