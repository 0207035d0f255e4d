"""Dashboard sessions. The cookie holds a random secret; the row holds its sha256, the token it
stands for and the CSRF token bound to it. A session lives no longer than its token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.db.models import Project, Token, UiSession, utcnow
from api.db.tokens import authenticate

# Without an expiry on the token, a login lasts this long; logging in again starts a new one.
MAX_SESSION = timedelta(days=7)


class OpenedSession(NamedTuple):
    """A new session: the secret goes into the cookie and nowhere else."""

    secret: str
    row: UiSession


class LiveSession(NamedTuple):
    """A session that may be used now, as plain values (no ORM object outlives the query)."""

    session_id: str
    csrf_token: str
    token_id: str
    project_id: str
    project_name: str
    is_admin: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_session(session: Session, api_token: str) -> OpenedSession | None:
    """Log in with an API token: a new session expiring with the token (None: bad token).

    The caller commits. Expired sessions of every token are swept here, where logins are rare.
    """
    token = authenticate(session, api_token)
    if token is None:
        return None
    now = utcnow()
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    expires = now + MAX_SESSION
    if token.expires_at is not None:
        expires = min(expires, _aware(token.expires_at))
    secret = secrets.token_urlsafe(32)
    row = UiSession(
        id=_hash(secret),
        token_id=token.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return OpenedSession(secret, row)


def find_session(session: Session, secret: str) -> LiveSession | None:
    """The live session of a cookie value, with its token; None when the session or its token
    has expired, the token was revoked, or there is no such session."""
    found = session.execute(
        select(UiSession, Token, Project.name)
        .join(Token, Token.id == UiSession.token_id)
        .join(Project, Project.id == Token.project_id)
        .where(UiSession.id == _hash(secret))
    ).one_or_none()
    if found is None:
        return None
    row, token, project_name = found
    now = utcnow()
    if _aware(row.expires_at) <= now or token.revoked_at is not None:
        return None
    if token.expires_at is not None and _aware(token.expires_at) <= now:
        return None
    return LiveSession(
        row.id, row.csrf_token, token.id, token.project_id, project_name, token.is_admin
    )


def close_session(session: Session, secret: str) -> None:
    """Log out: the session row is gone, so the cookie no longer opens anything. Caller commits."""
    session.execute(delete(UiSession).where(UiSession.id == _hash(secret)))
