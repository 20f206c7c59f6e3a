"""A worker's recording steps outlast a moment with no free pooled connection."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from common.config import Settings
from common.db import transaction
from common.jobs import runner
from common.jobs import service as jobs
from common.ledger.verify import verify_ledger, verify_stored_objects
from common.models import Job, LedgerEntry
from common.notify import LOCAL_BUS
from common.providers.limits import LocalLimiter
from common.providers.registry import build_providers
from common.storage.local import LocalBlobStore
from tests.fixtures.factories import create_account, music_request


def test_a_claim_waits_for_a_connection_instead_of_giving_up(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://"),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
    )
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with transaction(sessions) as session:
            account_id = create_account(session).id
            job_id = jobs.submit_job(
                session,
                account_id=account_id,
                api_key_id=None,
                request=music_request(),
                max_runtime_s=60,
            ).id
        ctx = runner.JobContext(
            settings=Settings(),
            sessions=sessions,
            store=LocalBlobStore(tmp_path, public_base_url="http://gw"),
            providers={},
            notifier=LOCAL_BUS,
            limiter=LocalLimiter({}),
        )
        taken = engine.connect()  # the pool's only connection, for the next half second
        threading.Timer(0.5, taken.close).start()
        job = runner.db_retrying()(runner._claim, ctx, job_id)
        assert job is not None and job.status == "running"
        with transaction(sessions) as session:
            jobs.fail_job(session, job_id=job_id, code="cancelled", message="test over")
    finally:
        engine.dispose()


def test_a_completion_whose_commit_reply_was_lost_keeps_its_charged_track(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The completion commits, then the connection drops before its reply is read: the retry
    finds its own outcome recorded and is a success, and the charged track keeps its audio."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with transaction(sessions) as session:
            account_id = create_account(session).id
            job_id = jobs.submit_job(
                session,
                account_id=account_id,
                api_key_id=None,
                request=music_request(),
                max_runtime_s=60,
            ).id
        settings = Settings()
        ctx = runner.JobContext(
            settings=settings,
            sessions=sessions,
            store=LocalBlobStore(tmp_path, public_base_url="http://gw"),
            providers=build_providers(settings),
            notifier=LOCAL_BUS,
            limiter=LocalLimiter({}),
        )
        complete = jobs.complete_job_in_one_statement
        dropped: list[str] = []

        def commit_then_lose_the_reply(session: Session, **values: Any) -> Any:
            job = complete(session, **values)  # autocommit: recorded once this returns
            if not dropped:
                dropped.append(values["job_id"])
                raise sqlalchemy.exc.OperationalError(
                    "COMMIT", {}, Exception("server closed the connection unexpectedly")
                )
            return job

        monkeypatch.setattr(jobs, "complete_job_in_one_statement", commit_then_lose_the_reply)
        with caplog.at_level(logging.INFO, logger="common.jobs.runner"):
            assert runner.run_job(ctx, job_id) == "succeeded"
        assert dropped == [job_id]
        (ended,) = [r for r in caplog.records if r.getMessage() == "job.ended"]
        assert (ended.outcome, ended.cost_usd, ended.charged_usd) == ("succeeded", "0.135", "0.135")
        with transaction(sessions) as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == "succeeded" and job.blob_key
            assert ctx.store.size(job.blob_key) == job.blob_size
            assert verify_ledger(session, account_id=account_id) == []
            captures = session.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.job_id == job_id, LedgerEntry.kind == "capture")
            )
            assert captures == 1
            assert verify_stored_objects(session, ctx.store, account_id=account_id) == []
            ctx.store.delete(job.blob_key)
            assert verify_stored_objects(session, ctx.store, account_id=account_id) == [
                f"job {job_id} succeeded and was charged, but its object {job.blob_key} is missing"
            ]
    finally:
        engine.dispose()
