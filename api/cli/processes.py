"""`musicgw serve`, `worker` and `beat`: the processes of the gateway."""

from __future__ import annotations

import contextlib
import os

import click

from api.cli.base import (
    main,
)
from common.config import get_settings
from common.observability.logs import configure_logging


@main.command("serve")
@click.option(
    "--host",
    default=None,
    help="Listen here instead of HOST. Links the API hands out still use PUBLIC_BASE_URL or "
    "HOST:PORT, so set those to change them.",
)
@click.option("--port", type=int, default=None, help="Listen here instead of PORT (as --host).")
@click.option("--workers", type=int, default=1, show_default=True)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (with an in-process worker when no REDIS_URL is set)."""
    import uvicorn

    from api.server import DeadlineProtocol, raise_open_file_limit

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    # One descriptor per connection, plus the database, Redis and blob-store pools.
    raise_open_file_limit(settings.http_max_concurrency + 256)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers if not settings.embedded else 1,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the request-id middleware logs each request, with its id
        # uvicorn's own read timeout is only the keep-alive one; the protocol adds head and body
        # deadlines (see api/server.py).
        http=DeadlineProtocol,
        timeout_keep_alive=settings.http_keepalive_timeout_s,
        # Counted per process over open connections and requests in flight: 4,096 leaves room
        # for the 2,000 callers a process is built to hold open, their polls and event streams.
        limit_concurrency=settings.http_max_concurrency,
        # Passed here so .env applies too (uvicorn would read only the process environment).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@main.command("worker")
@click.option("--concurrency", type=int, default=None, help="Threads (default: settings).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker (needs REDIS_URL)."""
    from worker.app import celery_app

    settings = get_settings()
    if settings.embedded:
        raise click.UsageError("set REDIS_URL: without it the API runs its own in-process worker")
    argv = [
        "worker",
        "-P",
        "threads",
        "-c",
        str(concurrency or settings.worker_concurrency),
        "-Q",
        "music",
        # unique per process, so several workers on one host don't collide
        "-n",
        f"musicgw-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    celery_app.worker_main(argv)


@main.command("beat")
def beat() -> None:
    """Run the maintenance loop: reap stuck jobs, purge expired audio, retry due webhooks.

    Not Celery beat (the name is kept for existing deployments); safe to run more than one."""
    import signal
    import threading

    from worker.context import get_context
    from worker.maintenance import run_periodic

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run_periodic(get_context(), stop)
