"""GET /v1/jobs/{id}, its /audio and POST /v1/jobs/{id}/cancel in-process: what the owner sees,
that another account sees nothing (404, as for a job that does not exist), and that only a
queued job can be cancelled."""

from __future__ import annotations

import pytest

from tests.api.conftest import Gateway


@pytest.fixture(scope="module")
def track(gateway: Gateway) -> tuple[str, str, bytes]:
    """A finished 2-second PCM track: (api_key, job_id, audio)."""
    _, key = gateway.account("5")
    r = gateway.post(
        "/v1/audio/music",
        key=key,
        json={"prompt": "folk guitar", "music_length_ms": 2000, "response_format": "pcm_16000"},
    )
    assert r.status_code == 200, r.text
    return key, r.headers["x-kyma-job-id"], r.content


def test_the_owner_sees_the_job_and_fetches_its_audio(
    gateway: Gateway, track: tuple[str, str, bytes]
) -> None:
    key, job_id, audio = track
    status = gateway.get(f"/v1/jobs/{job_id}", key=key)
    assert status.status_code == 200 and status.headers["x-kyma-job-id"] == job_id
    body = status.json()
    assert (body["object"], body["job_id"], body["status"], body["model"]) == (
        "audio.generation.job",
        job_id,
        "succeeded",
        "elevenlabs-music",
    )
    assert (body["duration_sec"], body["cost_usd"], body["charged_usd"]) == (2.0, 0.27, 0.27)
    assert (body["error"], body["audio_url"], body["webhooks"]) == (
        None,
        f"/v1/jobs/{job_id}/audio",
        [],
    )
    fetched = gateway.get(f"/v1/jobs/{job_id}/audio", key=key)
    assert fetched.status_code == 200 and fetched.content == audio
    assert fetched.headers["content-type"] == "audio/pcm"
    assert (fetched.headers["x-kyma-cost-usd"], fetched.headers["x-kyma-duration-sec"]) == (
        "0.27",
        "2",
    )


@pytest.mark.parametrize("path", ["/v1/jobs/{job_id}", "/v1/jobs/{job_id}/audio"])
def test_another_accounts_job_is_404_like_a_missing_one(
    gateway: Gateway, track: tuple[str, str, bytes], path: str
) -> None:
    _, other = gateway.account("1")
    for job_id in (track[1], "job_nope"):
        r = gateway.get(path.format(job_id=job_id), key=other)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
    cancel = gateway.post(f"/v1/jobs/{track[1]}/cancel", key=other)
    assert cancel.status_code == 404


def test_a_queued_job_is_cancelled_once_and_its_hold_released(gateway: Gateway) -> None:
    account_id, key = gateway.account("4.05")
    job_id = gateway.queued_job(account_id, music_length_ms=30_000)  # holds all 4.05
    cancelled = gateway.post(f"/v1/jobs/{job_id}/cancel", key=key)
    again = gateway.post(f"/v1/jobs/{job_id}/cancel", key=key)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["error"]["code"], body["charged_usd"]) == (
        "failed",
        "cancelled",
        0,
    )
    assert again.status_code == 409
    assert (again.json()["error"]["code"], again.json()["error"]["status"]) == (
        "not_cancellable",
        "failed",
    )
    assert gateway.get(f"/v1/jobs/{job_id}", key=key).json()["status"] == "failed"
    assert gateway.balance(account_id) == "4.05"
    # The hold is gone: the whole balance can be spent again.
    r = gateway.post("/v1/audio/music", key=key, json={"prompt": "x", "music_length_ms": 30_000})
    assert r.status_code == 200, r.text
    assert gateway.balance(account_id) == "0"


def test_a_finished_job_is_not_cancellable(gateway: Gateway, track: tuple[str, str, bytes]) -> None:
    key, job_id, _ = track
    r = gateway.post(f"/v1/jobs/{job_id}/cancel", key=key)
    assert r.status_code == 409
    assert (r.json()["error"]["code"], r.json()["error"]["status"]) == (
        "not_cancellable",
        "succeeded",
    )
