"""Projects and API tokens. Tokens are stored as sha256 hashes; the plaintext is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Project, Token, utcnow

TOKEN_PREFIX = "ty_"


class IssuedToken(NamedTuple):
    """A new token row and its plaintext, which is not stored anywhere and cannot be recovered."""

    token: Token
    plaintext: str


def hash_token(plaintext: str) -> str:
    # A fast hash is enough: tokens are 256 random bits, not guessable passwords.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def get_project_by_name(session: Session, name: str) -> Project | None:
    return session.scalars(select(Project).where(Project.name == name)).one_or_none()


def get_or_create_project(session: Session, name: str) -> Project:
    project = get_project_by_name(session, name)
    if project is None:
        project = Project(name=name, created_at=utcnow())
        session.add(project)
        session.flush()
    return project


def create_token(
    session: Session,
    project: Project | str,
    name: str = "default",
    is_admin: bool = False,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a token for `project` (a Project, or a project name created when missing).

    The caller commits. Returns `(token_row, plaintext)`; only the hash is stored.
    """
    if isinstance(project, str):
        project = get_or_create_project(session, project)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(
        project_id=project.id,
        name=name,
        token_hash=hash_token(plaintext),
        is_admin=is_admin,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, plaintext)


def authenticate(session: Session, plaintext: str) -> Token | None:
    """The live token with this plaintext, or None (unknown, revoked or expired)."""
    token = session.scalars(
        select(Token).where(Token.token_hash == hash_token(plaintext))
    ).one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and _aware(token.expires_at) <= utcnow():
        return None
    return token


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def list_tokens(session: Session, project_id: str | None = None) -> list[Token]:
    query = select(Token).order_by(Token.created_at)
    if project_id is not None:
        query = query.where(Token.project_id == project_id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: str, project_id: str | None = None) -> Token | None:
    """Revoke a token (optionally only within `project_id`); None when there is no such token."""
    query = select(Token).where(Token.id == token_id)
    if project_id is not None:
        query = query.where(Token.project_id == project_id)
    token = session.scalars(query).one_or_none()
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
