"""What the OpenAPI document says beyond the routes' own declarations: the bearer scheme, the
headers and examples the routes refer to, and no 422 (validation failures are 400 in the
error envelope, see api.main._validation_error)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.responses import JOB_ID_HEADER
from common.account.limits import too_many_in_flight
from common.errors import (
    AppError,
    AudioGoneError,
    AuthError,
    BillingError,
    IdempotencyConflictError,
    InvalidRequestError,
    JobNotReadyError,
    JobNotSavedError,
    NotCancellableError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StorageFailedError,
)
from common.jobs.states import JobStatus
from common.pricing import SKUS
from common.validation import parse_music_request

BEARER = "bearerAuth"
EXAMPLE_JOB_ID = "job_5f0c2a9e3b8d4e71a6c2d9f04b7e1a38"
EXAMPLE_CREATED_AT = "2026-11-27T10:15:02.481516+00:00"
EXAMPLE_FINISHED_AT = "2026-11-27T10:15:09.102377+00:00"
EXAMPLE_SAVED_URL = "http://127.0.0.1:8000/blobs/saved/5d0f8e2a9b7c41d3a6e1f0b2c4d8a3c1.mp3"

_DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
JOB_ID_HEADERS: dict[str, Any] = {
    JOB_ID_HEADER: {
        "description": "The job behind this answer: follow it at GET /v1/jobs/{job_id}.",
        "required": True,
        "schema": {"type": "string"},
        "example": EXAMPLE_JOB_ID,
    }
}
# A succeeded job's audio (or `save_to_blob` JSON) carries these: api.responses.kyma_headers.
KYMA_HEADERS: dict[str, Any] = {
    "X-Kyma-Model": {
        "description": "The resolved SKU (the default when `model` was omitted).",
        "required": True,
        "schema": {"type": "string", "enum": list(SKUS)},
        "example": "elevenlabs-music",
    },
    "X-Kyma-Duration-Sec": {
        "description": "Seconds billed: the requested length for elevenlabs-music, the actual "
        "track length for MiniMax SKUs. A plain decimal string.",
        "required": True,
        "schema": _DECIMAL,
        "example": "30",
    },
    "X-Kyma-Cost-USD": {
        "description": "The amount charged, in US dollars (plain decimal string).",
        "required": True,
        "schema": _DECIMAL,
        "example": "4.05",
    },
    "X-Kyma-Balance-USD": {
        "description": "The account's balance after this charge, in US dollars.",
        "required": True,
        "schema": _DECIMAL,
        "example": "95.95",
    },
} | JOB_ID_HEADERS
# A 202: the job goes on.
ACCEPTED_HEADERS: dict[str, Any] = JOB_ID_HEADERS | {
    "Location": {
        "description": "The job's status URL.",
        "required": True,
        "schema": {"type": "string"},
        "example": f"/v1/jobs/{EXAMPLE_JOB_ID}",
    },
    "Preference-Applied": {
        "description": "`respond-async` when the Prefer header was honoured.",
        "schema": {"type": "string"},
        "example": "respond-async",
    },
}
ERROR_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
        "example": 5,
    },
    JOB_ID_HEADER: JOB_ID_HEADERS[JOB_ID_HEADER] | {"description": "The job that was accepted."},
}


def _refusal(body: dict[str, Any]) -> AppError:
    """What validation answers for `body`: examples that cannot drift from the rules."""
    try:
        parse_music_request(body)
    except AppError as exc:
        return exc
    raise AssertionError(f"{body} is a valid request")


# Named error examples, each the error the code raises in that case. Where a route names none
# for a status, the first one of that status here is shown.
ERROR_EXAMPLES: dict[str, AppError] = {
    "invalid_cursor": InvalidRequestError("cursor is not one this API returned.", param="cursor"),
    "prompt_required": _refusal({"model": "elevenlabs-music"}),
    "not_json": InvalidRequestError(
        "The body is not valid JSON: Expecting value: line 1 column 1 (char 0)."
    ),
    "not_a_music_model": _refusal({"model": "tts-1", "prompt": "a jazz trio"}),
    "prompt_too_long": _refusal({"model": "minimax-music", "prompt": "x" * 245}),
    "lyrics_too_long": _refusal({"model": "minimax-music", "lyrics": "la " * 201}),
    "invalid_duration": _refusal({"prompt": "a jazz trio", "music_length_ms": 500}),
    "invalid_response_format": _refusal({"prompt": "a jazz trio", "response_format": "wav"}),
    "invalid_webhook_url": _refusal({"prompt": "a jazz trio", "webhook_url": "ftp://x"}),
    "auth_error": AuthError("Send your API key as 'Authorization: Bearer <key>'."),
    "billing_error": BillingError(
        "Available balance is below this request's cost of $4.05; top up the account and retry."
    ),
    "not_found": NotFoundError(f"No job {EXAMPLE_JOB_ID}.", param="job_id"),
    "idempotency_conflict": IdempotencyConflictError(
        "This Idempotency-Key was already used with a different request.",
        param="Idempotency-Key",
    ),
    "job_not_ready": JobNotReadyError(
        f"Job {EXAMPLE_JOB_ID} is running; audio exists only once it has succeeded.",
        headers={JOB_ID_HEADER: EXAMPLE_JOB_ID},
    ),
    "not_saved": JobNotSavedError(
        f"Job {EXAMPLE_JOB_ID} is not a saved track; only saved tracks are shared."
    ),
    "not_cancellable": NotCancellableError(
        f"Job {EXAMPLE_JOB_ID} cannot be cancelled: it is already running and will be charged "
        "if it succeeds.",
        extra={"status": JobStatus.RUNNING},
    ),
    "audio_expired": AudioGoneError(
        f"The audio of job {EXAMPLE_JOB_ID} is past its retention period.",
        headers={JOB_ID_HEADER: EXAMPLE_JOB_ID},
    ),
    "request_too_large": RequestTooLargeError("The request body is over the 64 KiB limit."),
    "rate_limited": RateLimitedError(
        "Too many requests for this API key (limit 300 per 1 minute); retry in 12 s.",
        headers={"Retry-After": "12"},
    ),
    "too_many_in_flight": too_many_in_flight(50),
    "provider_error": ProviderError(
        "MiniMax: input new_sensitive (1026) Nothing was charged.",
        sku="minimax-music",
        headers={JOB_ID_HEADER: EXAMPLE_JOB_ID},
        extra={
            "job_id": EXAMPLE_JOB_ID,
            "provider_code": "1026",
            "suggestion": "MiniMax flagged the prompt or lyrics as sensitive content; "
            "rephrase them and try again.",
        },
    ),
    "storage_error": StorageFailedError(
        "The track could not be stored. Nothing was charged.",
        sku="elevenlabs-music",
        headers={JOB_ID_HEADER: EXAMPLE_JOB_ID},
        extra={"job_id": EXAMPLE_JOB_ID},
    ),
    "dependency_down": ServiceUnavailableError(
        "A dependency of the gateway is unavailable; retry shortly.",
        headers={"Retry-After": "5"},
    ),
    "queue_unreachable": ServiceUnavailableError(
        "The job queue is unreachable; nothing was charged. Retry shortly.",
        headers={JOB_ID_HEADER: EXAMPLE_JOB_ID, "Retry-After": "5"},
    ),
}
STATUS_DESCRIPTIONS = {
    400: "The request is invalid; `param` names the field at fault. Nothing was charged.",
    401: "The API key is missing, malformed, unknown, revoked or expired.",
    402: "The available balance is below this request's cost.",
    404: "No such job for this account (another account's job is answered the same way).",
    409: "The request conflicts with the job's state or an earlier request.",
    410: "The audio is past its retention period.",
    413: "The request body is over 64 KiB.",
    429: "Over the key's rate limit or the account's jobs in flight; retry after Retry-After.",
    502: "The provider failed, or the track could not be stored; the hold was released and "
    "nothing was charged.",
    503: "A dependency of the gateway is down; nothing was charged. Retry after Retry-After.",
}

MUSIC_REQUEST_EXAMPLES: dict[str, Any] = {
    "elevenlabs": {
        "summary": "30 s from a prompt (elevenlabs-music: $4.05)",
        "value": {
            "model": "elevenlabs-music",
            "prompt": "upbeat lo-fi hip hop with warm keys",
            "music_length_ms": 30000,
        },
    },
    "minimax": {
        "summary": "A song with lyrics (minimax-music: $0.045)",
        "value": {
            "model": "minimax-music",
            "prompt": "indie folk, acoustic guitar, warm female vocal",
            "lyrics": "[verse]\nMorning light on the river\n[chorus]\nWe sing it loud",
            "response_format": "mp3_44100_192",
        },
    },
    "webhook": {
        "summary": "Told by webhook when it ends (with `Prefer: respond-async`, answered 202)",
        "value": {
            "model": "minimax-music-pro",
            "prompt": "cinematic strings, slow build",
            "webhook_url": "https://your-app.example/hooks/music",
        },
    },
}
# Examples of the parameters the routes take, by name (FastAPI lowercases header names).
PARAMETER_EXAMPLES: dict[str, Any] = {
    "job_id": EXAMPLE_JOB_ID,
    "save_to_blob": "1",
    "prefer": "respond-async",
    "idempotency-key": "4e0c5d1a-order-1187",
    "limit": 20,
    "cursor": f"{EXAMPLE_CREATED_AT}~{EXAMPLE_JOB_ID}",
}


def document_api(app: FastAPI) -> None:
    """Build the app's OpenAPI document once, completed as this module says."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "Your API key, sent as `Authorization: Bearer <key>`.",
        }
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # FastAPI adds 422 to every operation with parameters; this API answers 400.
            operation["responses"].pop("422", None)
            if path.startswith("/v1/"):
                operation["security"] = [{BEARER: []}]
            for parameter in operation.get("parameters", []):
                if parameter["name"] in PARAMETER_EXAMPLES:
                    parameter["example"] = PARAMETER_EXAMPLES[parameter["name"]]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    return document
