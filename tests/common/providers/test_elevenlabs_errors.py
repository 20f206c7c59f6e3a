import json

import pytest

from common.config import Settings
from common.providers.base import ProviderRejectedError, ProviderTransientError
from common.providers.elevenlabs.client import ElevenLabsClient, error_from_response


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("status", "payload", "kind", "code"),
    [
        (
            401,
            {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
            ProviderRejectedError,
            "invalid_api_key",
        ),
        (
            429,
            {"detail": {"status": "too_many_concurrent_requests", "message": "busy"}},
            ProviderTransientError,
            "too_many_concurrent_requests",
        ),
        (
            429,
            {
                "detail": {
                    "type": "rate_limit_error",
                    "code": "concurrent_limit_exceeded",
                    "message": "m",
                    "status": "concurrent_limit_exceeded",
                }
            },
            ProviderTransientError,
            "concurrent_limit_exceeded",
        ),
        (503, b"", ProviderTransientError, "http_503"),
        (500, b"oops", ProviderRejectedError, "http_500"),
        (
            422,
            {
                "detail": [
                    {"loc": ["body", "music_length_ms"], "msg": "too small", "type": "value_error"}
                ]
            },
            ProviderRejectedError,
            "validation_error",
        ),
    ],
)
def test_error_kinds(status: int, payload: object, kind: type, code: str) -> None:
    raw = payload if isinstance(payload, bytes) else body(payload)
    error = error_from_response(status, raw)
    assert type(error) is kind and error.provider_code == code


def test_bad_prompt_keeps_the_suggestion() -> None:
    error = error_from_response(
        400,
        body(
            {
                "detail": {
                    "status": "bad_prompt",
                    "message": "copyrighted artist",
                    "data": {"prompt_suggestion": "an upbeat pop song"},
                }
            }
        ),
    )
    assert isinstance(error, ProviderRejectedError)
    assert (error.provider_code, error.suggestion) == ("bad_prompt", "an upbeat pop song")


def test_validation_list_names_the_field() -> None:
    error = error_from_response(
        422,
        body(
            {
                "detail": [
                    {"loc": ["body", "music_length_ms"], "msg": "too small", "type": "value_error"}
                ]
            }
        ),
    )
    assert "body.music_length_ms: too small" in error.message


@pytest.mark.parametrize(
    ("tier", "requested", "asked"),
    [
        ("starter", "mp3_44100_192", "mp3_44100_128"),
        ("creator", "mp3_44100_192", "mp3_44100_192"),
        ("creator", "pcm_44100", "mp3_44100_128"),
        ("pro", "pcm_44100", "pcm_44100"),
        ("free", "ulaw_8000", "ulaw_8000"),
    ],
)
def test_plan_tier_fallback(tier: str, requested: str, asked: str) -> None:
    client = ElevenLabsClient(Settings(elevenlabs_api_key="k", elevenlabs_tier=tier))
    assert client.native_format(requested) == asked


def test_connection_refused_is_transient() -> None:
    from common.pricing import SKUS
    from common.providers.base import GenerationRequest
    from tests.fixtures.stack import free_port

    settings = Settings(
        elevenlabs_api_key="k", elevenlabs_base_url=f"http://127.0.0.1:{free_port()}"
    )
    request = GenerationRequest(
        job_id="j",
        sku=SKUS["elevenlabs-music"],
        prompt="x",
        lyrics=None,
        music_length_ms=3000,
        response_format="mp3_44100_128",
    )
    with pytest.raises(ProviderTransientError) as info:
        ElevenLabsClient(settings).generate(request)
    assert info.value.provider_code == "connect_failed"
