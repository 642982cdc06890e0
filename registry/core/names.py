"""Names and limits shared by the schema, the spec and the evidence validators.

Pure (no SQLAlchemy): the ORM models size their columns from here, and code that only checks
input (the spec, usage events, OpenLineage events, importance reports) imports the limits from
here rather than from the ORM module.
"""

from __future__ import annotations

__all__ = ["NAME_LENGTH", "name_problem"]

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
    return None
