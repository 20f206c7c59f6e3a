"""The purge deletes unsaved audio past retention and never touches a saved track."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from common.config import Settings
from common.db import transaction, utcnow
from common.jobs import service as jobs
from common.jobs.runner import JobContext, purge_expired_audio
from common.models import Job
from common.notify import LOCAL_BUS
from common.providers.limits import LocalLimiter
from common.storage.local import LocalBlobStore
from tests.fixtures.factories import create_account, music_request


def _finished_job(
    session,
    account_id: str,
    store: LocalBlobStore,
    *,
    saved: bool,  # type: ignore[no-untyped-def]
    retain_until,
) -> Job:
    job = jobs.submit_job(
        session,
        account_id=account_id,
        api_key_id=None,
        request=music_request(),
        max_runtime_s=60,
        save_to_blob=saved,
    )
    jobs.claim_job(session, job_id=job.id)
    prefix = "saved" if saved else "audio"
    stored = store.put(
        f"{prefix}/{account_id}/{job.id}.mp3",
        b"ID3 not really",
        public=saved,
        content_type="audio/mpeg",
    )
    return jobs.complete_job(
        session,
        job_id=job.id,
        blob_key=stored.key,
        blob_size=stored.size,
        content_type="audio/mpeg",
        billed_duration_ms=1000,
        provider_ref=None,
        retain_until=retain_until,
        public_url=stored.url,
    )


def test_purge(engine: Engine, tmp_path: Path) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    store = LocalBlobStore(tmp_path, public_base_url="http://gw")
    ctx = JobContext(
        settings=Settings(),
        sessions=sessions,
        store=store,
        providers={},
        notifier=LOCAL_BUS,
        limiter=LocalLimiter({}),
    )
    past, future = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    with transaction(sessions) as session:
        account_id = create_account(session).id
        old = _finished_job(session, account_id, store, saved=False, retain_until=past)
        fresh = _finished_job(session, account_id, store, saved=False, retain_until=future)
        kept = _finished_job(session, account_id, store, saved=True, retain_until=None)
        # even a saved row that somehow carries a past retention date is never purged
        odd = _finished_job(session, account_id, store, saved=True, retain_until=None)
        session.execute(update(Job).where(Job.id == odd.id).values(retain_until=past))
    assert purge_expired_audio(ctx) >= 1
    with transaction(sessions) as session:
        rows = {
            j.id: j
            for j in session.query(Job).filter(Job.id.in_([old.id, fresh.id, kept.id, odd.id]))
        }
    assert rows[old.id].blob_key is None and store.size(old.blob_key or "") is None
    for job in (fresh, kept, odd):
        assert rows[job.id].blob_key == job.blob_key
        assert store.size(job.blob_key or "") is not None


def test_saved_audio_is_kept_for_ever_and_unsaved_audio_for_the_retention_period() -> None:
    assert jobs.audio_retained_until(saved=True, retention_hours=24) is None
    until = jobs.audio_retained_until(saved=False, retention_hours=24)
    assert until is not None
    assert abs((until - utcnow()).total_seconds() - 24 * 3600) < 60
