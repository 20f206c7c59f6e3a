"""The gateway in-process: the app on the embedded default (SQLite and the in-process worker in
a temporary folder), its lifespan run once per session, called through httpx's ASGI transport.
Route behaviour is tested here in milliseconds; tests/e2e keeps what needs real processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from common import migrations
from common.account import service as accounts
from common.config import Settings
from common.db import transaction
from common.jobs import service as jobs
from common.pricing import format_usd, usd_to_micro
from tests.fixtures.factories import music_request


@dataclass
class Gateway:
    """A synchronous caller of the in-process app: each request runs on the portal's loop,
    where the lifespan (and so the waiters) live."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    sessions: sessionmaker[Session]

    def request(
        self, method: str, url: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {}) | ({"Authorization": f"Bearer {key}"} if key else {})
        send = partial(self.client.request, method, url, headers=headers, **kwargs)
        return self.portal.call(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def account(
        self, balance_usd: str = "100", *, max_in_flight: int | None = None
    ) -> tuple[str, str]:
        """A new account with money on it (and, given, its own in-flight limit):
        (account_id, api_key)."""
        with transaction(self.sessions) as session:
            account = accounts.create_account(
                session, name="api-test", balance_micro_usd=usd_to_micro(balance_usd)
            )
            if max_in_flight is not None:
                accounts.set_limits(
                    session, account_id=account.id, rate_limit=None, max_in_flight=max_in_flight
                )
            _, plaintext = accounts.create_key(session, account_id=account.id)
        return account.id, plaintext

    def queued_job(self, account_id: str, **request: Any) -> str:
        """A job with its hold that was never enqueued: it stays queued, in flight, for as
        long as the test needs (the deadline is the reaper's, minutes away)."""
        with transaction(self.sessions) as session:
            job = jobs.submit_job(
                session,
                account_id=account_id,
                api_key_id=None,
                request=music_request(**request),
                max_runtime_s=600,
            )
        return job.id

    def balance(self, account_id: str) -> str:
        with transaction(self.sessions) as session:
            return format_usd(accounts.get_account(session, account_id).balance_micro_usd)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("api"),
        database_url="",
        redis_url="",
    )
    migrations.upgrade(settings)
    app = create_app(settings)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        portal.wrap_async_context_manager(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        ) as client,
    ):
        yield Gateway(portal, client, app.state.gateway.sessions)
