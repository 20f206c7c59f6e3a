"""Periodic maintenance, independent of the queue: a killed or busy worker must not stop it.

The reaper expires jobs stuck past their maximum runtime and releases their holds. It talks to
the database directly (not through a Celery task) so it keeps working when every worker is
down. Several copies may run: each settle is a compare-and-set, the first one wins.
"""

from __future__ import annotations

import logging
import threading

from common.jobs.runner import JobContext, reap

log = logging.getLogger(__name__)


def run_periodic(context: JobContext, stop: threading.Event) -> None:
    """Reap every `reaper_interval_s` until `stop` is set."""
    while not stop.wait(context.settings.reaper_interval_s):
        try:
            expired = reap(context)
            if expired:
                log.info("expired %d stuck jobs", len(expired))
        except Exception:
            log.warning("reaper pass failed; trying again next interval", exc_info=True)
