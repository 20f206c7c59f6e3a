"""Which provider answers which SKU, chosen by settings; and their shared concurrency caps."""

from __future__ import annotations

from common.config import Settings
from common.pricing import SKUS
from common.providers.base import MusicProvider
from common.providers.download import SafeDownloader
from common.providers.elevenlabs.client import ElevenLabsClient
from common.providers.http import tls_context
from common.providers.limits import ConcurrencyLimiter, build_limiter
from common.providers.local.provider import LocalProvider
from common.providers.minimax.client import MiniMaxClient


def routes(settings: Settings) -> dict[str, str]:
    """SKU → "auto" | "live" | "offline", from the per-SKU settings."""
    return {
        "elevenlabs-music": settings.elevenlabs_music_provider,
        "minimax-music": settings.minimax_music_provider,
        "minimax-music-pro": settings.minimax_music_pro_provider,
    }


def build_providers(settings: Settings) -> dict[str, MusicProvider]:
    """SKU id → provider: live when the provider has a key (or is forced), else offline."""
    local = LocalProvider(
        latency_ms=settings.offline_latency_ms,
        failure_rate=settings.offline_failure_rate,
        cache_bytes=settings.offline_cache_mb * 1024 * 1024,
    )
    live: dict[str, MusicProvider | None] = {
        "elevenlabs": ElevenLabsClient(settings) if settings.elevenlabs_api_key else None,
        "minimax": _minimax(settings) if settings.minimax_api_key else None,
    }
    chosen: dict[str, MusicProvider] = {}
    for sku_id, mode in routes(settings).items():
        client = live[SKUS[sku_id].provider]
        if mode == "live" and client is None:
            raise ValueError(
                f"{sku_id} is routed live but {SKUS[sku_id].provider.upper()}_API_KEY is not set"
            )
        chosen[sku_id] = client if client is not None and mode != "offline" else local
    return chosen


def build_provider_limiter(settings: Settings) -> ConcurrencyLimiter:
    limits = {
        "elevenlabs": settings.elevenlabs_concurrency,
        "minimax": settings.minimax_concurrency,
    }
    return build_limiter(settings.redis_url, limits)


def _minimax(settings: Settings) -> MiniMaxClient:
    downloader = SafeDownloader(
        allowed_hosts=settings.minimax_audio_hosts,
        max_bytes=settings.download_max_bytes,
        timeout_s=settings.download_timeout_s,
        verify=tls_context(settings),
        resolve=settings.download_resolve,
        allow_networks=settings.download_allow_networks,
    )
    return MiniMaxClient(settings, downloader)
