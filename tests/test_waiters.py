"""Job waiters: a request waiting for its track is woken when the job ends, not when it starts;
a status stream is woken by both."""

from __future__ import annotations

import asyncio

from api.waiters import JobWaiters
from common.notify import LOCAL_BUS


async def never_terminal(job_ids: list[str]) -> list[str]:
    return []


async def _started_then_ended() -> None:
    waiters = JobWaiters(redis_url="", poll_interval_s=3600, find_terminal=never_terminal)
    await waiters.start()
    try:
        track = waiters.register("job_a", ended_only=True)
        stream = waiters.register("job_a")
        other = waiters.register("job_b", ended_only=True)

        LOCAL_BUS.publish("job_a", ended=False)  # a worker claimed it
        await asyncio.wait_for(stream, timeout=5)
        await asyncio.sleep(0.05)
        assert not track.done() and not other.done()
        assert waiters.waiting == 2

        LOCAL_BUS.publish("job_a")  # it ended
        await asyncio.wait_for(track, timeout=5)
        assert not other.done() and waiters.waiting == 1

        # The poll and a resubscription wake every waiter, whatever it waits for.
        waiters.wake("job_b")
        assert other.done() and waiters.waiting == 0
    finally:
        await waiters.stop()


def test_a_track_waiter_sleeps_through_the_start_and_wakes_at_the_end() -> None:
    asyncio.run(_started_then_ended())
