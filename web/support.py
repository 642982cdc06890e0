"""What every view shares: the request's database session, HTML-or-JSON responses, errors,
security headers, and the app-wide helpers (filters, form tokens, the SVG renderer)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, g, jsonify, render_template, request
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from registry.catalog.lineage import FLOW_CACHE, FlowCache
from registry.core.errors import FeatregError, NotFound

API_PREFIX = "/api/v1"
T = TypeVar("T")
_memo_lock = threading.Lock()
_memo_locks: dict[str, threading.Lock] = {}
log = logging.getLogger(__name__)

# Pages may only load what the app serves itself; no inline scripts (a name or a description
# that smuggles <script> in could not run even if it were ever left unescaped).
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'self'")
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def sessions() -> sessionmaker[Session]:
    """The app's session factory (for units of work that commit: `session_scope(sessions())`)."""
    factory: sessionmaker[Session] = current_app.extensions["featreg_sessions"]
    return factory


def svg_response(svg: str) -> Response:
    """A stand-alone SVG image (never allowed to run anything)."""
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


def memo(name: str, version: object, compute: Callable[[], T]) -> T:
    """An app-wide cached value, recomputed when `version` changes (see catalog_version)."""
    store: dict[str, tuple[object, Any]] = current_app.extensions.setdefault("featreg_memo", {})
    held = store.get(name)
    if held is not None and held[0] == version:
        return held[1]  # type: ignore[no-any-return]
    with _memo_lock:
        lock = _memo_locks.setdefault(name, threading.Lock())
    with lock:  # one thread computes, the others wait for its value (other names do not)
        held = store.get(name)
        if held is not None and held[0] == version:
            return held[1]  # type: ignore[no-any-return]
        value = compute()
        store[name] = (version, value)
        return value


class Latest:
    """One app-wide value kept current in the background: the value last computed and the
    version it was computed for. A reader never waits for a recomputation once a value
    exists: it gets the held one, and at most one thread recomputes at a time."""

    def __init__(self) -> None:
        self.version: object = None
        self.value: Any = None
        self.building: object = None  # the version being computed, None when idle
        self.lock = threading.Lock()  # guards the three fields above (never held long)
        self.stored = threading.Condition(self.lock)  # notified when a value is stored
        self.first = threading.Lock()  # held while the very first value is computed


def memo_latest(name: str, version: object,
                compute: Callable[[object, T | None], T]) -> tuple[object, T]:
    """The value held for `name` and the version it was computed for: current, or, while a
    newer one is computed by a background thread, the previous one (a change never makes
    readers wait: see D9 in issue 11). Only the first value of a process is computed in the
    caller (and its concurrent callers wait for it). `compute(held_version, held_value)`
    (None, None for the first) may update the held value rather than start anew; it runs
    outside any request: it must open its own database session (see `sessions`), never use
    the request's."""
    store: dict[str, Latest] = current_app.extensions.setdefault("featreg_latest", {})
    with _memo_lock:
        latest = store.setdefault(name, Latest())
    with latest.lock:
        held_version, held, building = latest.version, latest.value, latest.building
    if held_version == version or is_older(version, held_version):
        return held_version, held
    if held_version is None:  # nothing to serve yet: compute it here (others wait for it)
        with latest.first:
            with latest.lock:
                if latest.version is not None:
                    return latest.version, latest.value
            value = compute(None, None)
            with latest.lock:
                latest.version, latest.value = version, value
            return version, value
    if building is None:
        with latest.lock:
            start = latest.building is None
            if start:
                latest.building = version
        if start:
            threading.Thread(target=_recompute,
                             args=(latest, name, version, lambda: compute(held_version, held)),
                             name=f"featreg-{name}", daemon=True).start()
    return held_version, held


def is_older(version: object, than: object) -> bool:
    """Whether `version` precedes `than` (a reader that looked before the last change must
    not set off a recomputation of an older value). Versions are numbers or tuples of
    numbers that only grow."""
    if isinstance(version, tuple) and isinstance(than, tuple) and len(version) == len(than):
        return all(a <= b for a, b in zip(version, than, strict=True))
    if isinstance(version, int) and isinstance(than, int):
        return version <= than
    return False


def _recompute(latest: Latest, name: str, version: object, compute: Callable[[], Any]) -> None:
    try:
        value = compute()
    except Exception:  # noqa: BLE001 - logged; the previous value stays, the next reader retries
        log.exception("recomputing %s for version %r failed", name, version)
        with latest.lock:
            latest.building = None
            latest.stored.notify_all()
        return
    with latest.lock:
        latest.version, latest.value, latest.building = version, value, None
        latest.stored.notify_all()


def await_latest(name: str, version: object, timeout: float) -> tuple[object, Any]:
    """The value held for `name` once it is current for `version` (or newer), waiting at
    most `timeout` seconds for the background recomputation (started by `memo_latest`);
    the held one, whatever its version, when time runs out."""
    store: dict[str, Latest] = current_app.extensions.setdefault("featreg_latest", {})
    with _memo_lock:
        latest = store.setdefault(name, Latest())
    with latest.lock:
        latest.stored.wait_for(lambda: latest.version == version
                               or is_older(version, latest.version)
                               or latest.building is None, timeout)
        return latest.version, latest.value


def db() -> Session:
    """The request's read session (opened on first use, closed when the request ends)."""
    if "featreg_session" not in g:
        read_sessions: sessionmaker[Session] = current_app.extensions["featreg_read_sessions"]
        g.featreg_session = read_sessions()
        # lineage and graphs walk the catalog's edges held in memory per catalog version
        g.featreg_session.info[FLOW_CACHE] = current_app.extensions.setdefault(
            "featreg_flow_cache", FlowCache())
    session: Session = g.featreg_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("featreg_session", None)
    if session is not None:
        session.close()  # ends (rolls back) any transaction and returns the connection


def wants_json() -> bool:
    """JSON under /api/v1/ or with ?format=json; HTML otherwise."""
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX \
        or request.args.get("format") == "json"


def respond(template: str, data: Any, status: int = 200, **page: Any) -> Response:
    """One view, two answers: `data` as JSON, or the template with `data` and page extras."""
    if wants_json():
        response = jsonify(data)
    else:
        response = Response(render_template(template, data=data, **page))
    response.status_code = status
    return response


def _error(status: int, title: str, message: str) -> Response:
    if wants_json():
        response = jsonify({"error": title, "message": message, "status": status})
    else:
        response = Response(render_template("error.html", status=status, title=title,
                                            message=message))
    response.status_code = status
    return response


def _not_found(exc: NotFound) -> Response:
    return _error(404, "Not found", str(exc))


def _bad_input(exc: FeatregError | ValueError) -> Response:
    return _error(400, "Bad request", str(exc))


def _http(exc: HTTPException) -> Response:
    return _error(exc.code or 500, exc.name, exc.description or exc.name)


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


class RowId(IntegerConverter):
    """A row id in a URL: a non-negative integer that fits the database's id columns (32-bit
    on PostgreSQL); a larger number is no row, so the route answers 404, not a crash."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        super().__init__(map, *args, **kwargs)
        self.max = 2**31 - 1  # (werkzeug's NumberConverter sets the instance's own max)


def _refuse_nul() -> None:
    """A NUL in the path or a query argument names nothing that can be stored (PostgreSQL text
    cannot hold one): 400 naming where, before any view compares it with the database."""
    if "\x00" in request.path:
        abort(400, description="the path contains a NUL character (\\x00)")
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400, description=f"the query argument {key.replace(chr(0), '')!r} contains "
                                   "a NUL character (\\x00)")


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = RowId
    from . import auth, csrf, filters, hosts
    from .graph_render import SvgRenderer

    hosts.init_app(app)  # first: a request to a foreign host name goes no further
    app.before_request(_refuse_nul)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(FeatregError, _bad_input)
    app.register_error_handler(HTTPException, _http)
    app.after_request(_headers)
    filters.init_app(app)
    csrf.init_app(app)
    auth.init_app(app)
    app.extensions["featreg_svg"] = SvgRenderer(
        cache_size=int(app.config["GRAPH_CACHE_SIZE"]),
        cache_dir=app.config.get("GRAPH_CACHE_DIR"))
