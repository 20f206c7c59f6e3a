"""The per-process JobContext: engine, store, providers and notifier, built on first use."""

from __future__ import annotations

import threading

from common.config import get_settings
from common.db import create_db_engine, create_session_factory
from common.jobs.runner import JobContext
from common.notify import build_notifier
from common.providers.registry import build_provider_limiter, build_providers
from common.storage.registry import build_store

_lock = threading.Lock()
_context: JobContext | None = None


def get_context() -> JobContext:
    global _context
    with _lock:
        if _context is None:
            settings = get_settings()
            _context = JobContext(
                settings=settings,
                sessions=create_session_factory(create_db_engine(settings)),
                store=build_store(settings),
                providers=build_providers(settings),
                notifier=build_notifier(settings.redis_url),
                limiter=build_provider_limiter(settings),
            )
        return _context


def set_context(context: JobContext) -> None:
    """Share an existing context (the embedded default runs the worker inside the API)."""
    global _context
    with _lock:
        _context = context


def reset_context() -> None:
    global _context
    with _lock:
        if _context is not None:
            _context.sessions.kw["bind"].dispose(close=False)
        _context = None
