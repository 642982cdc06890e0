"""Names and limits shared by the schema, the spec and the evidence validators.

Pure (no SQLAlchemy): the ORM models size their columns from here, and code that only checks
input (the spec, usage events, OpenLineage events, importance reports) imports the limits from
here rather than from the ORM module.
"""

from __future__ import annotations

import re

__all__ = ["NAME_LENGTH", "name_problem", "text_problem"]

NAME_LENGTH = 128
"""Most characters in the name of a team, source, feature, consumer, principal or actor."""


def name_problem(value: object, what: str) -> str | None:
    """Why ``value`` cannot be the name ``what`` (a consumer, feature, principal) that evidence
    refers to, or None. (Evidence may name objects the catalog does not hold, so only the
    length is checked, not the catalog's name pattern.)"""
    if not isinstance(value, str) or not value:
        return f"{what} must be a non-empty string"
    if len(value) > NAME_LENGTH:
        return f"{what} is longer than {NAME_LENGTH} characters"
    return text_problem(value, what)


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, what: str) -> str | None:
    """Why the text ``value`` (of ``what``) cannot be stored, or None: a NUL character (which
    PostgreSQL refuses in text) or a lone UTF-16 surrogate (which is not Unicode text)."""
    if "\x00" in value:
        return f"{what} contains a NUL character (\\x00)"
    if _SURROGATE.search(value):
        return f"{what} is not valid Unicode text (it holds a lone surrogate)"
    return None
