import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.account import keys
from common.account import service as accounts
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
