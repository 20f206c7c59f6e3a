from datetime import timedelta

from sqlalchemy.orm import Session

from common.db import utcnow
from common.jobs import service as jobs
from common.jobs.present import event_body
from common.models import Account, Hold
from tests.fixtures.factories import COMPLETION, create_account, music_request


def _submit(session: Session, account: Account, **overrides: object):  # type: ignore[no-untyped-def]
    return jobs.submit_job(
        session,
        account_id=account.id,
        api_key_id=None,
        request=music_request(**overrides),
        max_runtime_s=60,
    )


def test_submit_holds_the_price(session: Session) -> None:
    account = create_account(session, balance_micro_usd=10_000_000)
    job = _submit(session, account, music_length_ms=30_000)
    assert job.status == "queued" and job.cost_micro_usd == 4_050_000
    session.refresh(account)
    assert account.held_micro_usd == 4_050_000


def test_claim_is_once(session: Session) -> None:
    job = _submit(session, create_account(session))
    assert jobs.claim_job(session, job_id=job.id) is not None
    assert jobs.claim_job(session, job_id=job.id) is None


def test_a_claim_updates_the_loaded_job_or_returns_a_whole_one(session: Session) -> None:
    account = create_account(session)
    loaded = _submit(session, account)
    claimed = jobs.claim_job(session, job_id=loaded.id)
    assert claimed is loaded
    assert loaded.status == "running" and loaded.started_at is not None

    other = _submit(session, account)
    session.expunge(other)  # as in a worker, whose claim runs in a fresh session
    fresh = jobs.claim_job(session, job_id=other.id)
    assert fresh is not None and fresh is not other
    assert (fresh.status, fresh.prompt, fresh.cost_micro_usd) == ("running", "calm piano", 135_000)
    assert fresh.started_at is not None and fresh.started_at.tzinfo is not None
    assert fresh.created_at == other.created_at


def test_complete_captures_and_fail_after_is_noop(session: Session) -> None:
    account = create_account(session, balance_micro_usd=1_000_000)
    job = _submit(session, account)
    jobs.claim_job(session, job_id=job.id)
    done = jobs.complete_job(
        session,
        job_id=job.id,
        blob_key="k",
        blob_size=10,
        content_type="audio/mpeg",
        billed_duration_ms=1000,
        provider_ref=None,
        retain_until=None,
    )
    assert done.status == "succeeded" and done.balance_after_micro_usd == 865_000
    assert jobs.fail_job(session, job_id=job.id, code="x", message="y") is None
    session.refresh(account)
    assert (account.balance_micro_usd, account.held_micro_usd) == (865_000, 0)


def test_reaper_expires_stuck_jobs_and_releases(session: Session) -> None:
    account = create_account(session, balance_micro_usd=1_000_000)
    stuck = _submit(session, account)
    jobs.claim_job(session, job_id=stuck.id)
    fresh = _submit(session, account)
    expired = jobs.expire_stuck_jobs(session, now=utcnow() + timedelta(seconds=61))
    assert stuck.id in expired and fresh.id in expired
    session.refresh(account)
    assert account.held_micro_usd == 0
    hold = session.get(Hold, stuck.hold_id)
    assert hold is not None and hold.state == "released"
    # the late worker loses the race: its completion must not capture
    try:
        jobs.complete_job(
            session,
            job_id=stuck.id,
            blob_key="k",
            blob_size=1,
            content_type="audio/mpeg",
            billed_duration_ms=1000,
            provider_ref=None,
            retain_until=None,
        )
        raise AssertionError("a completion after expiry must not succeed")
    except jobs.HoldAlreadySettled:
        pass


def test_reaper_leaves_jobs_within_deadline(session: Session) -> None:
    job = _submit(session, create_account(session))
    assert job.id not in jobs.expire_stuck_jobs(session, now=utcnow())


def test_events_replayed_after_the_end_describe_the_job_as_it_was(session: Session) -> None:
    """A stream opened after the job ended replays queued and running without its charge,
    audio or end; only the terminal event carries them."""
    account = create_account(session, balance_micro_usd=1_000_000)
    job = _submit(session, account)
    jobs.claim_job(session, job_id=job.id)
    done = jobs.complete_job(session, job_id=job.id, **COMPLETION)
    for status in ("queued", "running"):
        event = event_body(done, status)
        assert event["status"] == status
        assert (event["charged_usd"], event["duration_sec"], event["finished_at"]) == (
            0,
            None,
            None,
        )
        assert (event["audio_url"], event["url"], event["error"]) == (None, None, None)
        assert "balance_usd" not in event
    final = event_body(done, "succeeded")
    assert final["charged_usd"] == 0.135 and final["duration_sec"] == 1.0
    assert final["finished_at"] and final["audio_url"] and "balance_usd" in final
