"""Gallery sign-in: browser sessions and one-time sign-in links."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import AuthError
from common.models import ApiKey, LoginLink, WebSession
from common.tokens import hash_token, new_token

SESSION_TTL = timedelta(days=14)
LOGIN_LINK_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class BrowserSession:
    account_id: str
    csrf_token: str


def start_session(
    session: Session, *, account_id: str, api_key_id: str | None = None
) -> tuple[str, BrowserSession]:
    """A new session: the cookie token (shown once) and its CSRF token. Opened with an API key
    (`api_key_id`), it ends when that key is revoked or expires."""
    token, csrf = new_token(), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id=f"ses_{uuid.uuid4().hex}",
            account_id=account_id,
            api_key_id=api_key_id,
            token_hash=hash_token(token),
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    session.flush()
    return token, BrowserSession(account_id, csrf)


def resolve_session(session: Session, *, token: str | None) -> BrowserSession | None:
    """The live session behind a cookie, or None."""
    if not token:
        return None
    now = utcnow()
    row = session.scalars(
        select(WebSession)
        .outerjoin(ApiKey, ApiKey.id == WebSession.api_key_id)
        .where(
            WebSession.token_hash == hash_token(token),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            # The key that opened it, if any, still works.
            or_(
                WebSession.api_key_id.is_(None),
                and_(
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                ),
            ),
        )
    ).first()
    return BrowserSession(row.account_id, row.csrf_token) if row else None


def end_account_sessions(session: Session, *, account_id: str) -> int:
    """Sign every browser of an account out; how many sessions were live."""
    ended = session.scalars(
        update(WebSession)
        .where(WebSession.account_id == account_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(WebSession.id)
    ).all()
    return len(ended)


def end_session(session: Session, *, token: str) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == hash_token(token))
        .values(revoked_at=utcnow())
    )


def create_login_link(session: Session, *, account_id: str) -> str:
    """A one-time sign-in token, valid for 15 minutes."""
    token, now = new_token(), utcnow()
    session.add(
        LoginLink(
            id=f"lnk_{uuid.uuid4().hex}",
            account_id=account_id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + LOGIN_LINK_TTL,
        )
    )
    session.flush()
    return token


def consume_login_link(session: Session, *, token: str) -> str:
    """The account of an unused, unexpired link, marking it used (once, whoever races)."""
    account_id = session.scalars(
        update(LoginLink)
        .where(
            LoginLink.token_hash == hash_token(token),
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .returning(LoginLink.account_id)
    ).first()
    if account_id is None:
        raise AuthError("This sign-in link is unknown, used or expired.")
    return account_id


def login_link_state(session: Session, *, token: str) -> str:
    """Whether a one-time sign-in link can still sign in: "live", "used" or "dead" (unknown
    or expired), read without using it up."""
    link = session.scalars(
        select(LoginLink).where(LoginLink.token_hash == hash_token(token))
    ).first()
    if link is None or link.expires_at <= utcnow():
        return "dead"
    return "used" if link.used_at is not None else "live"
