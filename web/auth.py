"""Who is calling, for the web app: a bearer token (API), a signed-in token (UI), or the user
header of a trusted single-sign-on proxy (when configured).

- API writes need ``Authorization: Bearer <token>``: none gives 401, a revoked token 403
  (`registry.access.permissions` then decides what the identity may change).
- UI writes (forms) need a sign-in: `/signin` takes a token, checks it, and keeps only its
  hash in the signed session cookie; each request checks it again, so revoking a token signs
  its sessions out. Or, with ``FEATREG_SSO_USER_HEADER`` set, a proxy in front of Featreg
  vouches for the user (and ``FEATREG_SSO_TEAM_HEADER`` for the team; a team listed in
  ``FEATREG_SSO_ADMIN_TEAMS`` is admin). Only set these behind a proxy that strips the
  headers from clients.
- Reads are open unless ``FEATREG_READS_NEED_TOKEN`` is true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from registry.access.permissions import require
from registry.access.tokens import Identity, authenticate, authenticate_hash
from registry.core.errors import Forbidden, InvalidInput, Problem, Unauthenticated
from registry.core.names import NAME_LENGTH, text_problem
from registry.store.db import session_scope
from registry.wire import ACTOR_HEADER

from .support import API_PREFIX, db, sessions

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "featreg_token"
OPEN_PATHS = ("/signin", "/signout", "/static/", "/healthz", "/favicon")


def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    return secret.strip()


def _from_proxy() -> Identity | None:
    user_header = current_app.config.get("SSO_USER_HEADER")
    user = request.headers.get(user_header) if user_header else None
    if not user or not user.strip():
        return None
    team_header = current_app.config.get("SSO_TEAM_HEADER")
    team = (request.headers.get(team_header) or "").strip() or None if team_header else None
    admins = {t.strip() for t in str(current_app.config.get("SSO_ADMIN_TEAMS") or "").split(",")}
    return Identity(name=user.strip()[:NAME_LENGTH], team=team, admin=team in admins,
                    via="proxy")


def current_identity() -> Identity | None:
    """The caller's identity, or None for an anonymous caller (checked once per request; a
    token's last use is recorded in its own short transaction)."""
    if "featreg_identity" in g:
        held: Identity | None = g.featreg_identity
        return held
    identity = None
    secret = _bearer()
    signed_in = session.get(SESSION_KEY)
    if secret is not None:
        identity = _recorded(lambda read: authenticate(read, secret))
    elif isinstance(signed_in, str):
        try:
            identity = _recorded(lambda read: authenticate_hash(read, signed_in))
        except Unauthenticated:
            session.pop(SESSION_KEY, None)
    else:
        identity = _from_proxy()
    g.featreg_identity = identity
    return identity


def _recorded(check: Callable[[Session], Identity]) -> Identity:
    """A token looked up on the request's read session (autocommit: one statement, no
    transaction of its own); when the check records the token's last use (at most once a
    minute), that one UPDATE is committed at once."""
    read = db()
    try:
        identity = check(read)
        if read.dirty:
            read.commit()
    except BaseException:
        read.rollback()
        raise
    return identity


def sign_in(secret: str) -> Identity:
    """Check a token pasted into the sign-in form and remember it (as its hash) in the
    signed session cookie."""
    from registry.access.tokens import hash_secret

    with session_scope(sessions()) as db:
        identity = authenticate(db, secret.strip())
    session[SESSION_KEY] = hash_secret(secret.strip())
    g.featreg_identity = identity
    return identity


def sign_out() -> None:
    session.pop(SESSION_KEY, None)
    g.featreg_identity = None


def acting() -> Identity:
    """The identity a write acts as (401 when there is none)."""
    return require(current_identity())


def actor(body: Mapping[str, Any] | None = None) -> str:
    """What the audit trail records: the authenticated identity (``team/name``), with the
    ``X-Featreg-Actor`` header (or the body's ``actor``) attached only as a note."""
    identity = acting()
    note = request.headers.get(ACTOR_HEADER) or (body or {}).get("actor")
    label = identity.actor
    if isinstance(note, str) and (problem := text_problem(note, "the actor note")):
        raise InvalidInput([Problem(problem, field="actor")])
    if isinstance(note, str) and note.strip() and note.strip() != label:
        label = f"{label} ({note.strip()})"
    return label[:NAME_LENGTH]


def safe_next(target: str | None, fallback: str | None = None) -> str:
    """A local path to go back to after a form (never another site: no scheme or host, no
    `//`, no backslash, no control characters such as the tab of ``/<TAB>/evil.example``)."""
    home = fallback or (url_for("catalog.home") if "catalog.home" in current_app.view_functions
                        else "/")
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return home
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else home


def _guard() -> WerkzeugResponse | None:
    """Writes need an identity everywhere; reads too when FEATREG_READS_NEED_TOKEN is set."""
    path = request.path
    if path.startswith(OPEN_PATHS):
        return None
    reads_closed = bool(current_app.config.get("READS_NEED_TOKEN"))
    if request.method in SAFE_METHODS and not reads_closed:
        return None
    if current_identity() is not None:
        return None
    if path.startswith(API_PREFIX) or request.method not in SAFE_METHODS:
        raise Unauthenticated("this needs a token: send 'Authorization: Bearer <token>' "
                              "(create one with `featreg token create`), or sign in")
    return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))


def _refused(exc: Unauthenticated | Forbidden) -> Response:
    status = 401 if isinstance(exc, Unauthenticated) else 403
    title = "Sign-in needed" if status == 401 else "Not allowed"
    page = render_template("error.html", status=status, title=title, message=str(exc))
    response = make_response(page, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="featreg"'
    return response


def _identity_for_pages() -> dict[str, Any]:
    try:
        return {"identity": current_identity()}
    except (Unauthenticated, Forbidden):
        return {"identity": None}


def init_app(app: Flask) -> None:
    app.before_request(_guard)
    app.register_error_handler(Unauthenticated, _refused)
    app.register_error_handler(Forbidden, _refused)
    app.context_processor(_identity_for_pages)
