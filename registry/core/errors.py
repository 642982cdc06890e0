"""Error types. Every error carries a message a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class FeatregError(Exception):
    """Base class of every error Featreg raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in user input: where it is and what is wrong."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        elif self.line:
            where = f"line {self.line}"
        if self.field:
            where = f"{where} {self.field}".strip()
        return f"{where}: {self.message}" if where else self.message


class InvalidInput(FeatregError):
    """User input with one or more problems; nothing was applied."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{len(problems)} {noun}, nothing applied:\n{lines}")


class NotFound(FeatregError):
    """A named object does not exist."""


class SchemaOutdated(FeatregError):
    """The database schema is missing or behind the code."""

    exit_code = 1


class Unauthenticated(FeatregError):
    """A write (or, when reads need a token, a read) came without a valid token (HTTP 401)."""


class Forbidden(FeatregError):
    """The caller is known but may not do this: another team's object, or a revoked token
    (HTTP 403)."""


class Conflict(FeatregError):
    """A concurrent change got in the way; running the same request again is safe (HTTP
    409)."""
