"""API tokens: created for a team (optionally with admin rights), printed once, kept only as a
SHA-256 hash, revocable, with their last use recorded.

A token is ``frg_`` followed by 43 URL-safe characters of `secrets.token_urlsafe` (256 bits):
with that much entropy a plain SHA-256 (looked up by its hex digest, a unique column) is the
right hash; a slow password hash would only slow every request down.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.errors import Forbidden, InvalidInput, NotFound, Problem, Unauthenticated
from registry.core.names import NAME_LENGTH
from registry.store import models as m

__all__ = ["TOKEN_PREFIX", "Identity", "authenticate", "authenticate_hash", "create_token",
           "hash_secret", "list_tokens", "revoke_token"]

TOKEN_PREFIX = "frg_"
SHOWN_PREFIX = 12  # characters of the secret kept in clear to tell tokens apart
LAST_USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute


@dataclass(frozen=True)
class Identity:
    """Who is calling: a token's name and team, or a user vouched for by a trusted proxy."""

    name: str
    team: str | None
    admin: bool = False
    via: str = "token"  # token | proxy

    @property
    def actor(self) -> str:
        """The name the audit trail records: ``team/name`` (``name`` without a team)."""
        return f"{self.team}/{self.name}" if self.team else self.name

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "team": self.team, "admin": self.admin, "via": self.via,
                "actor": self.actor}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> None:
    problem = None
    if not name or not name.strip():
        problem = "a token needs a name"
    elif len(name) > NAME_LENGTH:
        problem = f"a token name has at most {NAME_LENGTH} characters"
    elif any(unicodedata.category(ch).startswith("C") for ch in name):
        problem = "a token name may not contain control characters"
    if problem:
        raise InvalidInput([Problem(problem, field="name")])


def create_token(session: Session, *, name: str, team: str | None, admin: bool,
                 created_by: str, now: datetime | None = None) -> tuple[m.ApiToken, str]:
    """A new token of `team` (an admin token may have none); returns the row and the secret,
    which is never stored."""
    _check_name(name)
    owner = None
    if team is not None:
        owner = session.scalar(select(m.Team).where(m.Team.name == team))
        if owner is None:
            raise NotFound(f"no team named {team!r}: register it first (featreg apply)")
    elif not admin:
        raise InvalidInput([Problem("a token needs a team (--team); only an admin token may "
                                    "have none", field="team")])
    if session.scalar(select(m.ApiToken.id).where(m.ApiToken.name == name)) is not None:
        raise InvalidInput([Problem(f"a token named {name!r} exists already", field="name")])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = m.ApiToken(name=name, team=owner, admin=admin, secret_hash=hash_secret(secret),
                       prefix=secret[:SHOWN_PREFIX], created_by=created_by[:NAME_LENGTH],
                       created_at=now or datetime.now(UTC))
    session.add(token)
    session.flush()
    return token, secret


def token_to_dict(token: m.ApiToken) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"name": token.name, "team": token.team.name if token.team else None,
            "admin": token.admin,
            "prefix": token.prefix, "created_at": iso(token.created_at),
            "created_by": token.created_by, "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at),
            "status": "revoked" if token.revoked_at else "active"}


def list_tokens(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(m.ApiToken).order_by(m.ApiToken.name))
    return [token_to_dict(t) for t in rows]


def revoke_token(session: Session, name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Revoke a token by name (revoking a revoked token changes nothing)."""
    token = session.scalar(select(m.ApiToken).where(m.ApiToken.name == name))
    if token is None:
        raise NotFound(f"no token named {name!r} (featreg token list)")
    if token.revoked_at is None:
        token.revoked_at = now or datetime.now(UTC)
    return token_to_dict(token)


def authenticate(session: Session, secret: str, *, now: datetime | None = None) -> Identity:
    """The identity of a bearer secret. Unknown secret: Unauthenticated; revoked: Forbidden.
    Records the last use (at most once a minute per token, so reads stay cheap)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 256:
        raise Unauthenticated("invalid token: Featreg tokens start with 'frg_' "
                              "(create one with `featreg token create`)")
    return authenticate_hash(session, hash_secret(secret), now=now)


def authenticate_hash(session: Session, secret_hash: str, *,
                      now: datetime | None = None) -> Identity:
    """`authenticate` for a secret already hashed (a UI sign-in keeps only the hash)."""
    token = session.scalar(select(m.ApiToken).where(m.ApiToken.secret_hash == secret_hash))
    if token is None:
        raise Unauthenticated("invalid token: no such token")
    if token.revoked_at is not None:
        raise Forbidden(f"token {token.name!r} was revoked on {token.revoked_at.isoformat()}")
    moment = now or datetime.now(UTC)
    if token.last_used_at is None or moment - token.last_used_at >= LAST_USE_RESOLUTION:
        token.last_used_at = moment
    return Identity(name=token.name, team=token.team.name if token.team else None,
                    admin=token.admin)
