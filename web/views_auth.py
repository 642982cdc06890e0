"""Sign in and out of the UI with an API token (see `web.auth`)."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from registry.core.errors import Forbidden, Unauthenticated

from . import csrf
from .auth import current_identity, safe_next, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.get("/signin")
def signin() -> Response:
    page = render_template("signin.html", next=safe_next(request.args.get("next")),
                           error=None, signed_in=current_identity())
    return make_response(page)


@bp.post("/signin")
def signin_post() -> WerkzeugResponse:
    csrf.check_form()
    target = safe_next(request.form.get("next"))
    try:
        sign_in(request.form.get("token", ""))
    except (Unauthenticated, Forbidden) as exc:
        page = render_template("signin.html", next=target, error=str(exc), signed_in=None)
        response = make_response(page)
        response.status_code = 401 if isinstance(exc, Unauthenticated) else 403
        return response
    return redirect(target)


@bp.post("/signout")
def signout() -> WerkzeugResponse:
    csrf.check_form()
    sign_out()
    return redirect(safe_next(None))
