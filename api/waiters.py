"""Waiting for jobs without a thread per waiter.

One subscription per process (Redis pub/sub, or the in-process bus) wakes the futures of the
jobs that changed; a slow poll of the job rows catches any wake-up pub/sub dropped. A waiter
registers its future *before* it reads the row, so an event between the two is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from common.notify import CHANNEL, LOCAL_BUS, parse

log = logging.getLogger(__name__)


class JobWaiters:
    def __init__(
        self,
        *,
        redis_url: str,
        poll_interval_s: float,
        find_terminal: Callable[[list[str]], Awaitable[list[str]]],
    ) -> None:
        self._redis_url = redis_url
        self._poll_interval_s = poll_interval_s
        self._find_terminal = find_terminal
        # job id → its waiters' futures, each with whether it waits only for the job to end
        self._futures: dict[str, dict[asyncio.Future[None], bool]] = {}
        self._waiting = 0  # futures across every job: /healthz reports it, so kept, not summed
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        return self._waiting

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._redis_url:
            self._tasks.append(asyncio.create_task(self._listen_redis()))
        else:
            self._unsubscribe = LOCAL_BUS.subscribe(self._wake_threadsafe)
        self._tasks.append(asyncio.create_task(self._poll()))

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def register(self, job_id: str, *, ended_only: bool = False) -> asyncio.Future[None]:
        """A future that resolves at the next event for the job (with `ended_only`, at the next
        one that says it ended; the poll and a resubscription wake every waiter)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(job_id, {})[future] = ended_only
        self._waiting += 1
        return future

    def discard(self, job_id: str, future: asyncio.Future[None]) -> None:
        futures = self._futures.get(job_id)
        if futures is not None and futures.pop(future, None) is not None:
            self._waiting -= 1
            if not futures:
                del self._futures[job_id]

    def wake(self, job_id: str, *, ended: bool = True) -> None:
        futures = self._futures.get(job_id)
        if futures is None:
            return
        for future, ended_only in list(futures.items()):
            if ended or not ended_only:
                del futures[future]
                self._waiting -= 1
                if not future.done():
                    future.set_result(None)
        if not futures:
            del self._futures[job_id]

    def _on_message(self, data: str) -> None:
        job_id, ended = parse(data)
        self.wake(job_id, ended=ended)

    def _wake_threadsafe(self, data: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_message, data)

    async def _listen_redis(self) -> None:
        while True:
            client = aioredis.Redis.from_url(self._redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    # Anything published while we were not subscribed is caught by a re-read.
                    for job_id in list(self._futures):
                        self.wake(job_id)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._on_message(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("job-event subscription lost; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            job_ids = list(self._futures)
            if not job_ids:
                continue
            try:
                for start in range(0, len(job_ids), 500):
                    for job_id in await self._find_terminal(job_ids[start : start + 500]):
                        self.wake(job_id)
            except Exception:
                log.warning("polling job rows failed", exc_info=True)
