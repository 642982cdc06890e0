"""Featreg: a feature registry and data-dependency catalog for ML teams."""

from registry.core.errors import FeatregError, InvalidInput, NotFound, Problem, SchemaOutdated

__all__ = ["FeatregError", "InvalidInput", "NotFound", "Problem", "SchemaOutdated", "connect"]


def connect(url: str | None = None, *, actor: str | None = None):  # type: ignore[no-untyped-def]
    """Open a client: a database URL (direct) or an http(s):// Featreg server."""
    from registry.sdk.client import connect as _connect

    return _connect(url, actor=actor)
