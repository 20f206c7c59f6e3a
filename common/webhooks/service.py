"""Recording webhooks when jobs end (in the same transaction: an outbox) and delivering them.

Delivery: POST the signed JSON with a 10 s timeout to the public address the host resolves to
(the same rules as provider URLs). Any 2xx is delivered; anything else is retried on a schedule
that spans about a day (`WEBHOOK_RETRY_BASE_S` × 1, 6, 30, 180, 360, 1080, 2160, 4320), then the
delivery is marked failed. A target that can never be called (not a URL, a refused scheme, an
address the policy refuses) fails at once: retrying cannot change it. `musicgw webhooks
redeliver` puts a delivery back in line.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from common.config import Settings
from common.db import utcnow
from common.errors import InvalidRequestError
from common.jobs.present import event_body
from common.jobs.states import TERMINAL
from common.models import Account, Job, WebhookDelivery
from common.net import AddressRefused, PublicAddressPolicy, pinned
from common.webhooks.signing import new_secret, sign

RETRY_STEPS = (1, 6, 30, 180, 360, 1080, 2160, 4320)
CLAIM_LEASE = timedelta(seconds=60)
log = logging.getLogger(__name__)


def check_deliverable(url: str, *, settings: Settings) -> None:
    """Refuse, before any hold, a webhook_url that no delivery could ever reach: a scheme the
    settings do not allow, or a host that is (or resolves only to) a loopback, private,
    link-local or otherwise non-public address. Resolves the host: call it off the event loop."""
    target = httpx.URL(url)  # parse_music_request has checked its form
    if target.scheme != "https" and not (settings.webhook_allow_http and target.scheme == "http"):
        raise InvalidRequestError("webhook_url must be an https URL.", param="webhook_url")
    policy = PublicAddressPolicy(allow_networks=settings.webhook_allow_networks)
    try:
        policy.checked_address(target.host)
    except AddressRefused as exc:
        raise InvalidRequestError(
            f"webhook_url cannot be delivered to: {exc}; it must reach a public address.",
            param="webhook_url",
        ) from exc


def target_url(session: Session, *, job: Job) -> str | None:
    """Where a job's webhooks go: its own URL, else its account's, else nowhere. The account's
    is read once per session (one narrow SELECT), however often a transaction asks."""
    if job.webhook_url:
        return job.webhook_url
    known: dict[str, str | None] = session.info.setdefault("account_webhook_urls", {})
    if job.account_id not in known:
        known[job.account_id] = session.scalar(
            select(Account.webhook_url).where(Account.id == job.account_id)
        )
    return known[job.account_id]


def record_job_ended(session: Session, *, job: Job) -> WebhookDelivery | None:
    """Queue the webhook of a job that just ended, if it or its account has a URL."""
    url = target_url(session, job=job)
    if not url or job.status not in TERMINAL:
        return None
    data = event_body(job, job.status)
    event = f"job.{job.status}"
    now = utcnow()
    delivery = WebhookDelivery(
        id=f"msg_{uuid.uuid4().hex}",
        job_id=job.id,
        url=url,
        event=event,
        payload=json.dumps(
            {"type": event, "timestamp": now.isoformat(), "data": data}, separators=(",", ":")
        ),
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def claim_due(session: Session, *, limit: int = 100) -> list[str]:
    """Take the deliveries that are due, each for a lease, so two senders never both send."""
    due = session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= utcnow())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return [delivery_id for delivery_id in list(due) if claim(session, delivery_id=delivery_id)]


def claim(session: Session, *, delivery_id: str) -> bool:
    """Take one due delivery for a lease (compare-and-set on its next attempt time)."""
    now = utcnow()
    row = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + CLAIM_LEASE)
        .returning(WebhookDelivery.id)
    ).first()
    return row is not None


def deliver(
    sessions: sessionmaker[Session],
    delivery_id: str,
    *,
    policy: PublicAddressPolicy,
    allow_http: bool,
    retry_base_s: float,
) -> str:
    """One attempt at a claimed delivery; returns its new state."""
    with sessions() as session, session.begin():
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != "pending":
            return delivery.state if delivery else "missing"
        job = session.get(Job, delivery.job_id)
        assert job is not None, "a delivery belongs to a job"
        secret = _signing_secret(session, account_id=job.account_id)
        url, payload = delivery.url, delivery.payload
    status, error, final = _post(
        url, payload, delivery_id, secret, policy=policy, allow_http=allow_http
    )
    with sessions() as session, session.begin():
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = (
                "delivered",
                utcnow(),
                None,
            )
        elif final or delivery.attempts > len(RETRY_STEPS):
            delivery.state, delivery.next_attempt_at = "failed", None
        else:
            wait = retry_base_s * RETRY_STEPS[delivery.attempts - 1]
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
        return delivery.state


def _signing_secret(session: Session, *, account_id: str) -> str:
    """The account's secret, made on first use for an account from before every account had
    one (the operator reads it with `musicgw accounts webhook`). Only that first use writes the
    account row, conditionally, so two racing first deliveries agree on one secret."""
    read = select(Account.webhook_secret).where(Account.id == account_id)
    secret = session.scalar(read)
    if not secret:
        session.execute(
            update(Account)
            .where(Account.id == account_id, Account.webhook_secret.is_(None))
            .values(webhook_secret=new_secret())
        )
        secret = session.scalar(read)
    assert secret, "a job belongs to an account"
    return secret


def _post(
    url: str,
    payload: str,
    msg_id: str,
    secret: str,
    *,
    policy: PublicAddressPolicy,
    allow_http: bool,
) -> tuple[int | None, str | None, bool]:
    """(HTTP status, error, whether the failure is final) of one attempt."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return None, "not a valid URL", True
    if target.scheme != "https" and not (allow_http and target.scheme == "http"):
        return None, "only https webhook URLs are called", True
    try:
        address = policy.checked_address(target.host)
    except AddressRefused as exc:
        return None, str(exc), True
    timestamp = int(time.time())
    pinned_url, headers, extensions = pinned(target, address)
    headers |= {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "user-agent": "musicgw-webhooks",
    }
    headers["webhook-signature"] = sign(secret, msg_id=msg_id, timestamp=timestamp, body=payload)
    try:
        with httpx.Client(timeout=10.0, follow_redirects=False) as client:
            response = client.post(
                pinned_url, content=payload.encode(), headers=headers, extensions=extensions
            )
    except httpx.HTTPError as exc:
        return None, type(exc).__name__, False
    error = None if response.is_success else f"HTTP {response.status_code}"
    return response.status_code, error, False


def redeliver(session: Session, *, delivery_id: str) -> None:
    """Put a delivery back in line (delivered or failed ones too)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(state="pending", next_attempt_at=utcnow(), attempts=0)
    )


def deliveries_of(session: Session, *, job_id: str) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.created_at)
        )
    )


def send_due(
    sessions: sessionmaker[Session], settings: Settings, *, job_id: str | None = None
) -> int:
    """Claim and attempt what is due (only this job's, if given); return how many were tried."""
    with sessions() as session, session.begin():
        if job_id is None:
            claimed = claim_due(session)
        else:
            claimed = [
                d.id
                for d in deliveries_of(session, job_id=job_id)
                if claim(session, delivery_id=d.id)
            ]
    policy = PublicAddressPolicy(allow_networks=settings.webhook_allow_networks)
    for delivery_id in claimed:
        state = deliver(
            sessions,
            delivery_id,
            policy=policy,
            allow_http=settings.webhook_allow_http,
            retry_base_s=settings.webhook_retry_base_s,
        )
        log.info("webhook.attempt", extra={"delivery_id": delivery_id, "state": state})
    return len(claimed)
