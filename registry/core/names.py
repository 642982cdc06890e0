"""Names and limits shared by the schema, the spec and the evidence parsers.

Pure (no SQLAlchemy): the ORM models size their columns from here, and code that only checks
input (the spec, usage events, OpenLineage events, importance reports) imports the limits from
here rather than from the ORM module.
"""

from __future__ import annotations

__all__ = ["NAME_LENGTH"]

NAME_LENGTH = 128
"""Most characters in the name of a team, source, feature, consumer, principal or actor."""
