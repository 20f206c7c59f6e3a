"""The offline provider's cache of finished tracks: one render per distinct request."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from common.pricing import SKUS
from common.providers.base import GenerationRequest
from common.providers.local import provider as local
from common.providers.local.synth import Track, synthesize


def _request(prompt: str = "calm lofi beat", fmt: str = "mp3_44100_128") -> GenerationRequest:
    return GenerationRequest(
        job_id="job",
        sku=SKUS["elevenlabs-music"],
        prompt=prompt,
        lyrics=None,
        music_length_ms=1000,
        response_format=fmt,
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The prompts the synthesiser was actually asked to render, in order."""
    seen: list[str | None] = []

    def counting(*, prompt: str | None, lyrics: str | None, length_ms: int | None) -> Track:
        seen.append(prompt)
        return synthesize(prompt=prompt, lyrics=lyrics, length_ms=length_ms)

    monkeypatch.setattr(local, "synthesize", counting)
    return seen


def test_concurrent_identical_requests_render_once(renders: list[str | None]) -> None:
    provider = local.LocalProvider(cache_bytes=8 * 1024 * 1024)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: provider.generate(_request()), range(16)))
    assert renders == ["calm lofi beat"]
    assert len({r.data for r in results}) == 1
    assert {r.duration_ms for r in results} == {1000}


def test_the_cache_keys_on_every_input(renders: list[str | None]) -> None:
    provider = local.LocalProvider(cache_bytes=8 * 1024 * 1024)
    first = provider.generate(_request())
    provider.generate(_request(fmt="pcm_44100"))
    provider.generate(_request(prompt="dark techno"))
    again = provider.generate(_request())
    assert renders == ["calm lofi beat", "calm lofi beat", "dark techno"]
    assert again.data == first.data


def test_without_a_budget_nothing_is_kept(renders: list[str | None]) -> None:
    provider = local.LocalProvider(cache_bytes=0)
    one, two = provider.generate(_request()), provider.generate(_request())
    assert renders == ["calm lofi beat", "calm lofi beat"]
    assert one.data == two.data  # deterministic either way


def test_a_track_larger_than_the_budget_is_not_kept(renders: list[str | None]) -> None:
    provider = local.LocalProvider(cache_bytes=1024)  # a 1 s MP3 is ~17 KB
    provider.generate(_request())
    provider.generate(_request())
    assert renders == ["calm lofi beat", "calm lofi beat"]
