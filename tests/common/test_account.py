from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.account import keys, sessions
from common.account import service as accounts
from common.db import utcnow
from common.errors import AuthError
from common.models import ApiKey
from tests.fixtures.factories import create_account, create_key


def test_key_is_stored_only_as_hash(session: Session) -> None:
    account = create_account(session)
    plaintext = create_key(session, account)
    stored = session.scalars(select(ApiKey).where(ApiKey.account_id == account.id)).one()
    assert plaintext not in (stored.key_hash, stored.prefix)
    assert stored.prefix == keys.parse_prefix(plaintext)
    assert stored.key_hash == keys.hash_key(plaintext)


def test_authenticate_accepts_the_key(session: Session) -> None:
    account = create_account(session)
    plaintext = create_key(session, account)
    principal = accounts.authenticate(session, authorization=f"Bearer {plaintext}")
    assert principal.account_id == account.id


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer not-a-key",
        "Bearer mgw_000000000000_" + "a" * 43,
    ],
)
def test_authenticate_rejects(session: Session, header: str | None) -> None:
    with pytest.raises(AuthError):
        accounts.authenticate(session, authorization=header)


def test_wrong_secret_with_real_prefix_is_rejected(session: Session) -> None:
    account = create_account(session)
    plaintext = create_key(session, account)
    forged = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError):
        accounts.authenticate(session, authorization=f"Bearer {forged}")


def test_revoked_key_is_rejected(session: Session) -> None:
    account = create_account(session)
    key, plaintext = accounts.create_key(session, account_id=account.id)
    accounts.revoke_key(session, key_id=key.id)
    with pytest.raises(AuthError, match="revoked"):
        accounts.authenticate(session, authorization=f"Bearer {plaintext}")


def test_a_gallery_session_ends_with_the_key_that_opened_it(session: Session) -> None:
    account = create_account(session)
    key, _ = accounts.create_key(session, account_id=account.id)
    other, _ = accounts.create_key(session, account_id=account.id)
    by_key, _ = sessions.start_session(session, account_id=account.id, api_key_id=key.id)
    by_other, _ = sessions.start_session(session, account_id=account.id, api_key_id=other.id)
    by_link, _ = sessions.start_session(session, account_id=account.id)
    assert sessions.resolve_session(session, token=by_key) is not None
    accounts.revoke_key(session, key_id=key.id)
    assert sessions.resolve_session(session, token=by_key) is None
    assert sessions.resolve_session(session, token=by_other) is not None
    assert sessions.resolve_session(session, token=by_link) is not None
    other.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    assert sessions.resolve_session(session, token=by_other) is None


def test_an_operator_can_end_all_of_an_accounts_sessions(session: Session) -> None:
    account = create_account(session)
    key, _ = accounts.create_key(session, account_id=account.id)
    tokens = [
        sessions.start_session(session, account_id=account.id, api_key_id=key.id)[0],
        sessions.start_session(session, account_id=account.id)[0],
    ]
    assert sessions.end_account_sessions(session, account_id=account.id) == 2
    assert [sessions.resolve_session(session, token=t) for t in tokens] == [None, None]
