"""Settings whose defaults are worked out from others."""

from __future__ import annotations

import pytest

from common.config import Settings


@pytest.mark.parametrize(("backend", "threads"), [("local", 4), ("s3", 16), ("vercel", 16)])
def test_api_threads_follow_the_store(
    monkeypatch: pytest.MonkeyPatch, backend: str, threads: int
) -> None:
    # A local store's steps are CPU and quick round trips; a remote store's reads wait on the
    # network, so it gets more threads.
    monkeypatch.delenv("API_THREADS", raising=False)
    assert Settings(storage_backend=backend).effective_api_threads == threads


def test_api_threads_set_by_the_operator_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_THREADS", "24")
    assert Settings(storage_backend="local").effective_api_threads == 24
    assert Settings(storage_backend="s3", api_threads=2).effective_api_threads == 2


def test_api_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="api_threads"):
        Settings(api_threads=0)


def test_public_base_url_is_the_operators_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://music.example.com/")
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert Settings().effective_public_base_url == "https://music.example.com"


def test_public_base_url_is_host_and_port_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("HOST", "10.1.2.3")
    monkeypatch.setenv("PORT", "8123")
    assert Settings().effective_public_base_url == "http://10.1.2.3:8123"


def test_embedded_broker_names_a_host(caplog: pytest.LogCaptureFixture) -> None:
    # Without one kombu warns at every start-up that it falls back to localhost.
    from kombu import Connection

    Connection(Settings(redis_url="").broker_url).info()
    assert "No hostname" not in caplog.text
    assert Settings(redis_url="redis://r:6379/3").broker_url == "redis://r:6379/3"
