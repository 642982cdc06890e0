"""Featreg: a feature registry and data-dependency catalog for ML teams."""

from registry.core.errors import FeatregError, InvalidInput, NotFound, Problem, SchemaOutdated

__all__ = ["FeatregError", "InvalidInput", "NotFound", "Problem", "SchemaOutdated", "connect"]


def connect(url: str | None = None, *, actor: str | None = None,  # type: ignore[no-untyped-def]
            token: str | None = None):
    """Open a client: a database URL (direct) or an http(s):// Featreg server (writes with
    `token`, default the FEATREG_TOKEN environment variable)."""
    from registry.sdk.client import connect as _connect

    return _connect(url, actor=actor, token=token)
