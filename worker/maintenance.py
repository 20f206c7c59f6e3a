"""Periodic maintenance, independent of the queue: a killed or busy worker must not stop it.

`musicgw beat` runs this loop (the command keeps its name; it is not Celery beat), and the
embedded API process runs it in a thread. The reaper expires jobs stuck past their maximum
runtime and releases their holds; the purge deletes unsaved audio past its retention period
(never a saved track); the webhook pass retries deliveries that are due. All talk to the
database directly (not through a Celery task) so it keeps working when every worker is down.
Several copies may run: each settle is a compare-and-set, the first one wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from common.jobs.runner import JobContext, purge_expired_audio, reap
from common.webhooks.service import send_due

log = logging.getLogger(__name__)


def run_periodic(context: JobContext, stop: threading.Event) -> None:
    """Reap, purge and retry webhooks every `reaper_interval_s` until `stop` is set."""
    passes: dict[str, Callable[[JobContext], int]] = {
        "reaper": lambda ctx: len(reap(ctx)),
        "purge": purge_expired_audio,
        "webhooks": lambda ctx: send_due(ctx.sessions, ctx.settings),
    }
    while not stop.wait(context.settings.reaper_interval_s):
        for name, run in passes.items():
            try:
                if count := run(context):
                    log.info("%s pass handled %d jobs", name, count)
            except Exception:
                log.warning("%s pass failed; trying again next interval", name, exc_info=True)
