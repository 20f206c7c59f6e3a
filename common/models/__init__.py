"""Every table; Alembic's autogenerate target."""

from typing import cast

from sqlalchemy import Table

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

# The tables behind the hot paths' models, for Core statements: executed with parameters, an ORM
# insert or update is a bulk operation, with per-call work a single-row statement does not need.
ACCOUNTS = cast(Table, Account.__table__)
HOLDS = cast(Table, Hold.__table__)
JOBS = cast(Table, Job.__table__)

__all__ = [
    "ACCOUNTS",
    "HOLDS",
    "JOBS",
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
