"""The real provider clients, through the API and a Celery worker, against faithful fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common.audio.codec import measure_duration_ms
from common.models import Job
from tests.e2e.conftest import assert_ledger_sound
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.minimax import FakeMiniMax
from tests.fakes.server import TcpCanary
from tests.fixtures.stack import Stack

MAX_ATTEMPTS = 3
LYRICS = "[verse]\nMorning light on the river\nCoffee steam\n[chorus]\nSing it loud\nSing it slow"


@pytest.fixture(scope="module")
def elevenlabs() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs(tier="business") as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture(scope="module")
def minimax() -> Iterator[FakeMiniMax]:
    with FakeMiniMax() as fake:
        yield fake
        assert fake.errors == []


def provider_env(elevenlabs: FakeElevenLabs, minimax: FakeMiniMax, **extra: str) -> dict[str, str]:
    return {
        "ELEVENLABS_API_KEY": elevenlabs.api_key,
        "ELEVENLABS_BASE_URL": elevenlabs.base_url,
        "ELEVENLABS_TIER": "creator",
        "MINIMAX_API_KEY": minimax.api_key,
        "MINIMAX_BASE_URL": minimax.base_url,
        "MINIMAX_AUDIO_HOSTS": f'["{minimax.file_host}"]',
        "DOWNLOAD_RESOLVE": f'{{"{minimax.file_host}": "127.0.0.1"}}',
        "PROVIDER_CA_BUNDLE": minimax.ca_pem_path,
        "PROVIDER_READ_TIMEOUT_S": "2",
        "PROVIDER_TOTAL_TIMEOUT_S": "4",
        "PROVIDER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "PROVIDER_RETRY_INITIAL_S": "0.05",
        "PROVIDER_RETRY_MAX_S": "0.2",
        "ELEVENLABS_CONCURRENCY": "2",
    } | extra


@pytest.fixture(scope="module")
def live(
    elevenlabs: FakeElevenLabs,
    minimax: FakeMiniMax,
    e2e_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Both providers live (MiniMax audio as hex), two worker processes sharing the caps."""
    stack = Stack(
        tmp_path_factory.mktemp("live"),
        database_url=e2e_database,
        workers=2,
        env=provider_env(elevenlabs, minimax),
    ).start()
    yield stack
    stack.stop()


@pytest.fixture
def fakes(elevenlabs: FakeElevenLabs, minimax: FakeMiniMax) -> Iterator[None]:
    elevenlabs.reset()
    minimax.reset()
    yield
    elevenlabs.reset()
    minimax.reset()


def job_row(database_url: str, job_id: str) -> Job:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            job = session.scalars(select(Job).where(Job.id == job_id)).one()
            session.expunge(job)
            return job
    finally:
        engine.dispose()


def test_elevenlabs_on_the_wire(
    live: Stack, elevenlabs: FakeElevenLabs, fakes: None, e2e_database: str
) -> None:
    account_id, key = live.account("10")
    with live.client(key) as client:
        r = client.post(
            "/v1/audio/music", json={"prompt": "upbeat synthwave", "music_length_ms": 30000}
        )
    assert r.status_code == 200, r.text
    request = elevenlabs.last_request
    assert (request.method, request.path, request.query) == (
        "POST",
        "/v1/music",
        {"output_format": "mp3_44100_128"},
    )
    assert request.headers["xi-api-key"] == elevenlabs.api_key
    assert request.json == {
        "prompt": "upbeat synthwave",
        "music_length_ms": 30000,
        "model_id": "music_v1",
    }
    assert (r.headers["x-kyma-cost-usd"], r.headers["x-kyma-duration-sec"]) == ("4.05", "30")
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - 30000) <= 50
    assert live.balance(account_id) == "5.95"
    job = job_row(e2e_database, r.headers["x-kyma-job-id"])
    assert job.provider_ref == elevenlabs.last_song.song_id and job.provider_calls == 1


def test_elevenlabs_below_its_minimum_is_trimmed(
    live: Stack, elevenlabs: FakeElevenLabs, fakes: None
) -> None:
    _, key = live.account("10")
    with live.client(key) as client:
        r = client.post("/v1/audio/music", json={"prompt": "glitchy idm", "music_length_ms": 1200})
    assert r.status_code == 200, r.text
    assert elevenlabs.last_request.json["music_length_ms"] == 3000
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - 1200) <= 30
    assert (r.headers["x-kyma-cost-usd"], r.headers["x-kyma-duration-sec"]) == ("0.162", "1.2")


def test_format_above_the_plan_is_transcoded(
    live: Stack, elevenlabs: FakeElevenLabs, fakes: None
) -> None:
    _, key = live.account("10")
    with live.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"prompt": "lofi", "music_length_ms": 3000, "response_format": "pcm_44100"},
        )
    assert r.status_code == 200, r.text
    assert elevenlabs.last_request.query == {"output_format": "mp3_44100_128"}  # creator plan
    assert r.headers["content-type"] == "audio/pcm"
    assert abs(len(r.content) / 2 / 44100 - 3.0) < 0.03


def test_minimax_on_the_wire(
    live: Stack, minimax: FakeMiniMax, fakes: None, e2e_database: str
) -> None:
    _, key = live.account("10")
    with live.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"model": "minimax-music-pro", "prompt": "indie pop", "lyrics": LYRICS},
        )
    assert r.status_code == 200, r.text
    request = minimax.last_request
    assert (request.method, request.path) == ("POST", "/v1/music_generation")
    assert request.headers["authorization"] == f"Bearer {minimax.api_key}"
    assert request.json == {
        "model": "music-2.6",
        "prompt": "indie pop",
        "lyrics": "[Verse]\nMorning light on the river\nCoffee steam\n[Chorus]\nSing it loud\n"
        "Sing it slow",
        "audio_setting": {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"},
        "output_format": "hex",
    }
    song = minimax.last_song
    billed_ms = Decimal(r.headers["x-kyma-duration-sec"]) * 1000
    assert abs(billed_ms - song.duration_ms) <= 50
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - billed_ms) <= 50
    assert r.headers["x-kyma-cost-usd"] == "0.21"
    assert job_row(e2e_database, r.headers["x-kyma-job-id"]).provider_ref == song.trace_id


@pytest.mark.parametrize(
    ("sku", "expected"),
    [
        ("minimax-music", {"model": "music-2.0", "lyrics": "[Inst]", "prompt": "ambient drone"}),
        (
            "minimax-music-pro",
            {"model": "music-2.6", "is_instrumental": True, "prompt": "ambient drone"},
        ),
    ],
)
def test_minimax_instrumental(
    live: Stack, minimax: FakeMiniMax, fakes: None, sku: str, expected: dict[str, object]
) -> None:
    _, key = live.account("10")
    with live.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"model": sku, "prompt": "ambient drone", "lyrics": "[Instrumental]"},
        )
    assert r.status_code == 200, r.text
    sent = minimax.last_request.json
    assert {k: sent[k] for k in expected} == expected
    assert ("is_instrumental" in sent) == (sku == "minimax-music-pro")


def test_a_transient_failure_is_retried(
    live: Stack, elevenlabs: FakeElevenLabs, fakes: None, e2e_database: str
) -> None:
    elevenlabs.fail_next("503")
    _, key = live.account("10")
    with live.client(key) as client:
        r = client.post("/v1/audio/music", json={"prompt": "x", "music_length_ms": 3000})
    assert r.status_code == 200, r.text
    assert job_row(e2e_database, r.headers["x-kyma-job-id"]).provider_calls == 2


FAILURES = [
    # (fake, switch, sku, provider_code, calls)
    ("elevenlabs", "401", "elevenlabs-music", "invalid_api_key", 1),
    ("elevenlabs", "quota_exceeded", "elevenlabs-music", "quota_exceeded", 1),
    ("elevenlabs", "422", "elevenlabs-music", "validation_error", 1),
    ("elevenlabs", "429", "elevenlabs-music", "too_many_concurrent_requests", MAX_ATTEMPTS),
    ("elevenlabs", "429_new", "elevenlabs-music", "concurrent_limit_exceeded", MAX_ATTEMPTS),
    ("elevenlabs", "bad_prompt", "elevenlabs-music", "bad_prompt", 1),
    ("elevenlabs", "500", "elevenlabs-music", "http_500", 1),
    ("elevenlabs", "503", "elevenlabs-music", "http_503", MAX_ATTEMPTS),
    ("elevenlabs", "hang", "elevenlabs-music", "timeout", 1),
    ("elevenlabs", "slow_body", "elevenlabs-music", "timeout", 1),
    ("elevenlabs", "truncated", "elevenlabs-music", "truncated_audio", 1),
    ("elevenlabs", "corrupt", "elevenlabs-music", "malformed_audio", 1),
    ("elevenlabs", "reset", "elevenlabs-music", "connection_lost", 1),
    ("minimax", "1002", "minimax-music", "1002", MAX_ATTEMPTS),
    ("minimax", "1004", "minimax-music", "1004", 1),
    ("minimax", "1008", "minimax-music-pro", "1008", 1),
    ("minimax", "1026", "minimax-music", "1026", 1),
    ("minimax", "1041", "minimax-music", "1041", MAX_ATTEMPTS),
    ("minimax", "2013", "minimax-music-pro", "2013", 1),
    ("minimax", "http429", "minimax-music", "http_429", MAX_ATTEMPTS),
    ("minimax", "http401", "minimax-music", "http_401", 1),
    ("minimax", "truncated", "minimax-music", "truncated_audio", 1),
    ("minimax", "corrupt", "minimax-music-pro", "malformed_audio", 1),
    ("minimax", "hang", "minimax-music", "timeout", 1),
    ("minimax", "reset", "minimax-music", "connection_lost", 1),
]


@pytest.mark.parametrize(
    ("fake", "switch", "sku", "code", "calls"), FAILURES, ids=[f"{f[0]}-{f[1]}" for f in FAILURES]
)
def test_every_failure_is_a_free_502(
    live: Stack,
    elevenlabs: FakeElevenLabs,
    minimax: FakeMiniMax,
    fakes: None,
    e2e_database: str,
    fake: str,
    switch: str,
    sku: str,
    code: str,
    calls: int,
) -> None:
    (elevenlabs if fake == "elevenlabs" else minimax).failure = switch
    account_id, key = live.account("10")
    with live.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"model": sku, "prompt": "a song", "lyrics": LYRICS, "music_length_ms": 3000},
        )
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert (error["code"], error["sku"], error["provider_code"]) == ("provider_error", sku, code)
    if switch in ("bad_prompt", "1026"):
        assert error["suggestion"]
    assert "test-key" not in r.text  # secrets never echo back
    job = job_row(e2e_database, r.headers["x-kyma-job-id"])
    assert (job.status, job.provider_code, job.provider_calls) == ("failed", code, calls)
    assert live.balance(account_id) == "10"
    assert_ledger_sound(e2e_database, account_id)


def test_shared_cap_across_two_workers(
    live: Stack, elevenlabs: FakeElevenLabs, fakes: None
) -> None:
    elevenlabs.latency_s = 0.4
    _, key = live.account("10")

    async def fire() -> list[int]:
        async with httpx.AsyncClient(
            base_url=live.base_url, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/v1/audio/music", json={"prompt": f"song {i}", "music_length_ms": 3000}
                    )
                    for i in range(10)
                )
            )
        return [r.status_code for r in responses]

    assert asyncio.run(fire()) == [200] * 10
    assert elevenlabs.max_in_flight == 2
    assert len(elevenlabs.requests) == 10


@pytest.fixture(scope="module")
def url_mode(
    elevenlabs: FakeElevenLabs,
    minimax: FakeMiniMax,
    e2e_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """MiniMax audio as URLs; the fake's file host is pinned to loopback and allowed."""
    env = provider_env(
        elevenlabs, minimax, MINIMAX_OUTPUT_FORMAT="url", DOWNLOAD_ALLOW_NETWORKS='["127.0.0.1/32"]'
    )
    stack = Stack(tmp_path_factory.mktemp("url"), database_url=e2e_database, env=env).start()
    yield stack
    stack.stop()


def test_minimax_url_audio_is_downloaded(
    url_mode: Stack, minimax: FakeMiniMax, fakes: None
) -> None:
    _, key = url_mode.account("10")
    with url_mode.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"model": "minimax-music", "lyrics": LYRICS, "response_format": "pcm_24000"},
        )
    assert r.status_code == 200, r.text
    assert minimax.last_request.json["output_format"] == "url"
    assert minimax.files.sni_names[-1] == minimax.file_host
    assert r.headers["content-type"] == "audio/pcm"
    assert abs(len(r.content) / 2 / 24000 * 1000 - minimax.last_song.duration_ms) <= 50


@pytest.mark.parametrize(
    "target",
    [
        "https://127.0.0.1:{canary}/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/x",
        "http://cdn.fake-minimax.test:{canary}/x",
        "redirect:https://127.0.0.1:{canary}/x",
        "redirect:https://localhost:{canary}/x",
    ],
)
def test_ssrf_urls_are_refused(
    url_mode: Stack, minimax: FakeMiniMax, fakes: None, target: str
) -> None:
    with TcpCanary() as canary:
        url = target.format(canary=canary.port)
        if url.startswith("redirect:"):
            minimax.file_redirect_to = url.removeprefix("redirect:")
        else:
            minimax.audio_url_override = url
        account_id, key = url_mode.account("10")
        with url_mode.client(key) as client:
            r = client.post("/v1/audio/music", json={"model": "minimax-music", "lyrics": LYRICS})
        assert r.status_code == 502, r.text
        assert r.json()["error"]["provider_code"] == "audio_url_refused"
        assert not canary.wait_for_connections(1, timeout_s=0.5)
    assert url_mode.balance(account_id) == "10"
