"""A worker's recording steps outlast a moment with no free pooled connection."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from common.config import Settings
from common.db import transaction
from common.jobs import runner
from common.jobs import service as jobs
from common.notify import LOCAL_BUS
from common.providers.limits import LocalLimiter
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
