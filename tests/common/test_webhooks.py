"""Webhook deliveries: always signed, and refused targets fail at once."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.account import service as accounts
from common.config import Settings
from common.db import transaction
from common.errors import AppError
from common.jobs import service as jobs
from common.models import Account, Job, WebhookDelivery
from common.net import PublicAddressPolicy
from common.webhooks import service as webhooks
from common.webhooks.signing import verify
from tests.fixtures.factories import music_request


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        Receiver.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def committed(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def ended_job_delivery(sessions: sessionmaker[Session], *, url: str, secret: bool) -> str:
    """A job with its own webhook_url, failed, so that its delivery is queued; its id."""
    with transaction(sessions) as session:
        account = accounts.create_account(session, name="hooks", balance_micro_usd=10_000_000)
        if not secret:  # an account made before every account had a secret
            account.webhook_secret = None
        job = jobs.submit_job(
            session,
            account_id=account.id,
            api_key_id=None,
            request=music_request(webhook_url=url),
            max_runtime_s=60,
        )
    with transaction(sessions) as session:
        jobs.fail_job(session, job_id=job.id, code="provider_error", message="test")
        (delivery,) = webhooks.deliveries_of(session, job_id=job.id)
        return delivery.id


def deliver(sessions: sessionmaker[Session], delivery_id: str, policy: PublicAddressPolicy) -> str:
    return webhooks.deliver(sessions, delivery_id, policy=policy, allow_http=True, retry_base_s=10)


def test_a_new_account_has_a_signing_secret(session: Session) -> None:
    account = accounts.create_account(session, name="fresh")
    assert account.webhook_secret and account.webhook_secret.startswith("whsec_")


def test_a_per_request_webhook_is_signed_even_for_an_account_without_a_secret(
    committed: sessionmaker[Session], receiver: str
) -> None:
    delivery_id = ended_job_delivery(committed, url=receiver, secret=False)
    loopback = PublicAddressPolicy(allow_networks=["127.0.0.0/8"])
    assert deliver(committed, delivery_id, loopback) == "delivered"
    ((headers, body),) = Receiver.received
    with transaction(committed) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        job = session.get(Job, delivery.job_id)
        assert job is not None
        account = session.get(Account, job.account_id)
        assert account is not None and account.webhook_secret
        assert verify(
            account.webhook_secret,
            msg_id=headers["webhook-id"],
            timestamp=int(headers["webhook-timestamp"]),
            body=body,
            signature_header=headers["webhook-signature"],
            now=int(headers["webhook-timestamp"]),
        )


def test_a_target_the_address_policy_refuses_fails_at_once(
    committed: sessionmaker[Session], receiver: str
) -> None:
    """The URL was acceptable when the job was made; now its host is not public (DNS changed,
    here: no exemption for loopback). Retrying for a day cannot help."""
    delivery_id = ended_job_delivery(committed, url=receiver, secret=True)
    assert deliver(committed, delivery_id, PublicAddressPolicy()) == "failed"
    assert Receiver.received == []
    with transaction(committed) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        assert (delivery.attempts, delivery.next_attempt_at) == (1, None)
        assert delivery.last_error and "non-public" in delivery.last_error


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "non-public"),
        ("https://[::1]/x", "non-public"),
        ("https://10.0.0.7/x", "non-public"),
        ("https://169.254.169.254/latest", "non-public"),
        ("https://[64:ff9b::a9fe:a9fe]/x", "non-public"),
        ("https://localhost/x", "non-public"),
        ("https://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_a_webhook_url_that_can_never_be_delivered_is_refused_at_the_door(
    url: str, why: str
) -> None:
    with pytest.raises(AppError) as caught:
        webhooks.check_deliverable(url, settings=Settings())
    body = caught.value.to_body()["error"]
    assert (caught.value.status, body["code"], body["param"]) == (
        400,
        "invalid_request",
        "webhook_url",
    )
    assert why in body["message"]


def test_plain_http_and_exempt_networks_are_allowed_when_the_settings_say_so() -> None:
    settings = Settings(webhook_allow_http=True, webhook_allow_networks=["127.0.0.0/8"])
    webhooks.check_deliverable("http://127.0.0.1:9/x", settings=settings)
    webhooks.check_deliverable("https://8.8.8.8/x", settings=Settings())
