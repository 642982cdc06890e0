"""Allowed hosts: the server answers only to the host names it is meant to be reached by.

A page on another site can make a victim's browser resolve that site's name to this server
(DNS rebinding); its requests then carry the foreign name in ``Host`` and pass any same-origin
check, because ``Origin`` names the same foreign host. Every request whose ``Host`` is not
allowed is therefore refused with 400 before any view runs.

``ALLOWED_HOSTS`` (env FEATREG_ALLOWED_HOSTS): comma-separated host names (without the port);
``.example.com`` also allows every subdomain of example.com, and ``*`` allows any host (for a
server behind a proxy that checks it). Unset: localhost, 127.0.0.1 and ::1, plus the host
``featreg serve --host`` binds (``SERVE_HOST``), when that is not a wildcard address.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, abort, current_app, request

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - names, not a bind


def _names(setting: object) -> list[str]:
    if isinstance(setting, str):
        items: Iterable[object] = setting.split(",")
    elif isinstance(setting, Iterable):
        items = setting
    else:
        items = ()
    return [str(item).strip().lower().rstrip(".") for item in items if str(item).strip()]


def allowed_hosts(config: dict[str, object] | None = None) -> list[str]:
    """The host names this app answers to, from its config."""
    config = config if config is not None else current_app.config
    configured = _names(config.get("ALLOWED_HOSTS"))
    if configured:
        return configured
    bound = str(config.get("SERVE_HOST") or "").strip().lower().strip("[]")
    return [*LOCAL_HOSTS, *([bound] if bound not in WILDCARD_BINDS else [])]


def host_name(host: str) -> str:
    """The name in a Host header, without the port (IPv6 literals without their brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") <= 1 else host


def is_allowed(host: str, allowed: Iterable[str]) -> bool:
    name = host_name(host)
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def _check_host() -> None:
    host = request.headers.get("Host") or request.environ.get("SERVER_NAME") or ""
    if not is_allowed(host, allowed_hosts()):
        abort(400, description=f"this server does not answer to the host {host_name(host)!r} "
                               "(set FEATREG_ALLOWED_HOSTS to the names it is reached by)")


def init_app(app: Flask) -> None:
    app.before_request(_check_host)
