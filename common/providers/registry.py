"""Which provider answers which SKU, chosen by settings."""

from __future__ import annotations

from common.config import Settings
from common.providers.base import MusicProvider
from common.providers.local.provider import LocalProvider


def build_providers(settings: Settings) -> dict[str, MusicProvider]:
    """SKU id → provider. Until real clients land, the offline provider answers every SKU."""
    local = LocalProvider(
        latency_ms=settings.offline_latency_ms, failure_rate=settings.offline_failure_rate
    )
    return {sku: local for sku in ("elevenlabs-music", "minimax-music", "minimax-music-pro")}
