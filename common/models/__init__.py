"""Every table; Alembic's autogenerate target."""

from common.db import Base
from common.models.account import Account
from common.models.api_key import ApiKey
from common.models.hold import Hold
from common.models.idempotency_key import IdempotencyKey
from common.models.job import Job
from common.models.ledger_entry import LedgerEntry
from common.models.share_link import ShareLink
from common.models.web_session import LoginLink, WebSession
from common.models.webhook_delivery import WebhookDelivery

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Hold",
    "IdempotencyKey",
    "Job",
    "LedgerEntry",
    "LoginLink",
    "ShareLink",
    "WebSession",
    "WebhookDelivery",
]
