"""The fakes themselves: real audio, the reference's error shapes, and each failure switch."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from common.audio.codec import CodecError, measure_duration_ms
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.minimax import FakeMiniMax
from tests.fakes.server import TcpCanary

LYRICS = "[Verse]\nsun on the water\nwind in the trees\n[Chorus]\nla la la"
MM_BODY: dict[str, object] = {
    "model": "music-2.6",
    "prompt": "bright acoustic pop",
    "lyrics": LYRICS,
    "audio_setting": {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"},
}


@pytest.fixture
def eleven() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs() as fake:
        yield fake
    assert not fake.errors


@pytest.fixture
def minimax() -> Iterator[FakeMiniMax]:
    with FakeMiniMax() as fake:
        yield fake
    assert not fake.errors and not fake.files.errors


def compose(
    fake: FakeElevenLabs,
    body: dict[str, object],
    *,
    fmt: str = "mp3_44100_128",
    path: str = "/v1/music",
    timeout: float = 5.0,
) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}{path}",
        params={"output_format": fmt},
        json=body,
        headers={"xi-api-key": fake.api_key},
        timeout=timeout,
    )


def generate(fake: FakeMiniMax, body: dict[str, object], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or fake.api_key}"}
    return httpx.post(f"{fake.base_url}/v1/music_generation", json=body, headers=headers)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("mp3_44100_128", "audio/mpeg"), ("pcm_16000", "audio/pcm"), ("ulaw_8000", "audio/basic")],
)
def test_elevenlabs_answers_real_audio_of_the_requested_length(eleven, fmt, content_type):
    response = compose(eleven, {"prompt": "calm piano", "music_length_ms": 4000}, fmt=fmt)

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["song-id"] == eleven.last_song.song_id
    assert abs(measure_duration_ms(response.content, fmt) - 4000) <= 5
    request = eleven.last_request
    assert request.query == {"output_format": fmt}
    assert request.json == {"prompt": "calm piano", "music_length_ms": 4000}


def test_elevenlabs_stream_is_chunked_and_the_same_audio(eleven):
    response = compose(
        eleven, {"prompt": "calm piano", "music_length_ms": 3000}, path="/v1/music/stream"
    )

    assert response.headers["transfer-encoding"] == "chunked"
    assert abs(measure_duration_ms(response.content, "mp3_44100_128") - 3000) <= 5


def test_elevenlabs_validation_errors_are_fastapi_lists(eleven):
    response = compose(eleven, {"prompt": "x", "music_length_ms": 1000}, fmt="wav_44100")

    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert locs == [["query", "output_format"], ["body", "music_length_ms"]]
    assert all({"loc", "msg", "type"} <= error.keys() for error in response.json()["detail"])
    plan = {"sections": [{"section_name": "A", "duration_ms": 5000, "lines": []}]}
    both = compose(eleven, {"prompt": "x", "composition_plan": plan})
    assert both.status_code == 422


def test_elevenlabs_auth_tier_and_error_switches(eleven):
    wrong = httpx.post(f"{eleven.base_url}/v1/music", json={"prompt": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}

    eleven.tier = "creator"
    denied = compose(eleven, {"prompt": "x", "music_length_ms": 3000}, fmt="pcm_44100")
    assert denied.status_code == 403
    assert denied.json()["detail"]["status"] == "output_format_not_allowed"

    eleven.fail_next("429_new")
    eleven.fail_next("bad_prompt")
    limited, refused = (compose(eleven, {"prompt": "x"}) for _ in range(2))
    assert limited.status_code == 429
    assert limited.json()["detail"]["code"] == "concurrent_limit_exceeded"
    assert refused.status_code == 400
    assert refused.json()["detail"]["data"]["prompt_suggestion"]
    with pytest.raises(ValueError):
        eleven.fail_next("418")


def test_elevenlabs_counts_max_in_flight_and_enforces_a_concurrency_cap(eleven):
    def burst(n: int) -> list[int]:
        statuses: list[int] = []
        body = {"prompt": "x", "music_length_ms": 3000}
        threads = [
            threading.Thread(target=lambda: statuses.append(compose(eleven, body).status_code))
            for _ in range(n)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(statuses)

    eleven.latency_s = 0.4
    assert burst(4) == [200] * 4
    assert eleven.max_in_flight == 4

    eleven.reset()
    eleven.latency_s = 0.4
    eleven.max_concurrency = 2
    assert burst(4) == [200, 200, 429, 429]
    # Refusals are quick, so the last one may arrive after another has already been answered.
    assert eleven.max_in_flight >= 3
    # The server counts a request out after its response is written, so a client can see the
    # answer a moment before the count drops.
    deadline = time.monotonic() + 5
    while eleven.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eleven.in_flight == 0


def test_truncated_audio_is_half_and_corrupt_audio_does_not_decode(eleven):
    eleven.fail_next("truncated")
    eleven.fail_next("corrupt")
    short = compose(eleven, {"prompt": "x", "music_length_ms": 6000})
    garbage = compose(eleven, {"prompt": "x", "music_length_ms": 6000})

    assert 2500 <= measure_duration_ms(short.content, "mp3_44100_128") <= 3500
    assert garbage.status_code == 200 and garbage.headers["content-type"] == "audio/mpeg"
    with pytest.raises(CodecError):
        measure_duration_ms(garbage.content, "mp3_44100_128")


def test_reset_and_plain_failures(eleven):
    eleven.fail_next("reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        compose(eleven, {"prompt": "x"})
    eleven.failure = "503"
    assert compose(eleven, {"prompt": "x"}).status_code == 503
    eleven.reset()
    assert eleven.failure is None and eleven.requests == []


def test_hang_and_slow_body_never_block_stop():
    fake = FakeElevenLabs().start()
    fake.fail_next("hang")
    with pytest.raises(httpx.ReadTimeout):
        compose(fake, {"prompt": "x"}, timeout=0.3)
    fake.fail_next("slow_body")
    with httpx.Client(timeout=2) as client:
        request = client.build_request(
            "POST",
            f"{fake.base_url}/v1/music",
            json={"prompt": "x", "music_length_ms": 3000},
            headers={"xi-api-key": fake.api_key},
        )
        response = client.send(request, stream=True)
        first = next(response.iter_raw())
        assert int(response.headers["content-length"]) > 10_000
        assert len(first) <= fake.slow_body_bytes
        fake.fail_next("hang")
        # A second connection left hanging while stop() runs.
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{fake.base_url}/v1/music", json={}, timeout=0.2)
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 2
        response.close()


def test_failure_mix_is_seeded():
    def outcomes() -> list[int]:
        with FakeMiniMax(seed=7) as fake:
            fake.failure_mix = {"503": 0.5}
            return [generate(fake, {}).status_code for _ in range(12)]

    first = outcomes()
    assert first == outcomes()
    assert {200, 503} == set(first)


def test_minimax_hex_success_matches_extra_info(minimax):
    response = generate(minimax, MM_BODY)

    assert response.status_code == 200
    body = response.json()
    assert body["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert body["data"]["status"] == 2 and body["analysis_info"] is None
    data = bytes.fromhex(body["data"]["audio"])
    info = body["extra_info"]
    assert info["music_duration"] == minimax.last_duration_ms == 2 * 8000 + 3 * 3000
    assert info["music_size"] == len(data)
    assert (info["music_sample_rate"], info["music_channel"], info["bitrate"]) == (44100, 2, 128000)
    assert abs(measure_duration_ms(data, "mp3_44100_128") - info["music_duration"]) <= 5


def test_minimax_failures_are_http_200_with_base_resp(minimax):
    wrong_key = generate(minimax, MM_BODY, key="nope")
    assert wrong_key.status_code == 200
    assert wrong_key.json()["base_resp"]["status_code"] == 1004

    no_flag = generate(minimax, {**MM_BODY, "model": "music-2.0", "is_instrumental": True})
    assert no_flag.status_code == 200
    assert no_flag.json()["base_resp"]["status_code"] == 2013
    assert no_flag.json()["base_resp"]["status_msg"].startswith("invalid params")

    minimax.fail_next("1026")
    minimax.fail_next("http429")
    sensitive, limited = generate(minimax, MM_BODY), generate(minimax, MM_BODY)
    assert sensitive.json()["base_resp"] == {
        "status_code": 1026,
        "status_msg": "input new_sensitive",
    }
    assert limited.status_code == 429


def test_minimax_url_mode_serves_the_file_over_tls_for_the_cdn_name(minimax):
    minimax.duration_ms = 3000
    body = generate(minimax, {**MM_BODY, "output_format": "url"}).json()
    url = httpx.URL(body["data"]["audio"])
    assert (url.scheme, url.host, url.port) == ("https", minimax.file_host, minimax.file_port)

    context = ssl.create_default_context(cafile=minimax.ca_pem_path)
    local = url.copy_with(host="127.0.0.1")
    with httpx.Client(verify=context) as client:
        extensions = {"sni_hostname": minimax.file_host}
        headers = {"Host": f"{minimax.file_host}:{minimax.file_port}"}
        response = client.get(local, headers=headers, extensions=extensions)
        assert response.status_code == 200
        assert abs(measure_duration_ms(response.content, "mp3_44100_128") - 3000) <= 5
        assert body["extra_info"]["music_size"] == len(response.content)
        assert minimax.files.sni_names == [minimax.file_host]

        minimax.file_redirect_to = "https://169.254.169.254/latest"
        moved = client.get(local, headers=headers, extensions=extensions)
        assert moved.status_code == 302
        assert moved.headers["location"] == "https://169.254.169.254/latest"
    # The certificate names the CDN only: a client that verifies against the IP must fail.
    with httpx.Client(verify=context) as client, pytest.raises(httpx.ConnectError):
        client.get(local)
    assert [r.path for r in minimax.file_requests] == [url.path, url.path]

    minimax.audio_url_override = "https://10.0.0.1/x"
    override = generate(minimax, {**MM_BODY, "output_format": "url"}).json()
    assert override["data"]["audio"] == "https://10.0.0.1/x"


def test_canary_counts_connections():
    with TcpCanary() as canary:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"https://127.0.0.1:{canary.port}/x", timeout=2)
        assert canary.wait_for_connections(1)
        assert canary.connections == 1
