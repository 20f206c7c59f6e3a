"""Schemas for the OpenAPI document. Validation itself is common.validation (one rule set)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from api.openapi import (
    ERROR_EXAMPLES,
    ERROR_HEADERS,
    EXAMPLE_CREATED_AT,
    EXAMPLE_FINISHED_AT,
    EXAMPLE_JOB_ID,
    EXAMPLE_SAVED_URL,
    STATUS_DESCRIPTIONS,
)
from common.audio.formats import DEFAULT_FORMAT, FORMATS
from common.errors import AppError
from common.jobs.states import JobStatus as Status
from common.pricing import DEFAULT_SKU, SKUS
from common.validation import (
    DEFAULT_LENGTH_MS,
    MAX_LENGTH_MS,
    MAX_WEBHOOK_URL_LENGTH,
    MIN_LENGTH_MS,
)

JobStatusName = Literal[
    Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.EXPIRED
]
assert list(get_args(JobStatusName)) == list(Status)


def _limits(sku_ids: list[str], field: str) -> str:
    """Each SKU's maximum of `field` as the catalogue has it, e.g. `minimax-music ≤ 200`."""
    return ", ".join(f"{sku} ≤ {getattr(SKUS[sku], field)}" for sku in sku_ids)


# The request rules are common.validation's and the SKU catalogue's; the document quotes them.
_PROMPT_REQUIRED = [s.id for s in SKUS.values() if s.lyrics_max is None]
_TAKES_LYRICS = [s.id for s in SKUS.values() if s.lyrics_max is not None]
_PER_SECOND = [s.id for s in SKUS.values() if s.per_second]


class MusicRequestBody(BaseModel):
    model: str = Field(
        DEFAULT_SKU, description="The music SKU.", json_schema_extra={"enum": list(SKUS)}
    )
    prompt: str | None = Field(
        None,
        description=f"Required for {', '.join(_PROMPT_REQUIRED)}; for the others a prompt or "
        f"lyrics. Characters after NFC: {_limits(list(SKUS), 'prompt_max')}.",
    )
    lyrics: str | None = Field(
        None,
        description=f"Only for {', '.join(_TAKES_LYRICS)}; ignored by the others. Characters "
        f"after NFC: {_limits(_TAKES_LYRICS, 'lyrics_max')}. Tags on their own lines: "
        "[verse] [chorus] [bridge] [intro] [outro] [Instrumental].",
    )
    music_length_ms: int | None = Field(
        DEFAULT_LENGTH_MS,
        ge=MIN_LENGTH_MS,
        le=MAX_LENGTH_MS,
        description=f"Requested length; {', '.join(_PER_SECOND)} bills it.",
    )
    duration_ms: int | None = Field(
        None, ge=MIN_LENGTH_MS, le=MAX_LENGTH_MS, description="Alias of music_length_ms."
    )
    response_format: str = Field(
        DEFAULT_FORMAT,
        description="One of: " + ", ".join(FORMATS),
        json_schema_extra={"enum": list(FORMATS)},
    )
    webhook_url: str | None = Field(
        None,
        max_length=MAX_WEBHOOK_URL_LENGTH,
        description="Where to POST the job (signed, Standard Webhooks) when it ends; an "
        "absolute https URL. The account's own webhook URL is used when this is absent.",
    )


class ErrorDetail(BaseModel):
    """The fields an error carries; those after `type` only where they apply."""

    code: str = Field(description="Stable machine-readable code, e.g. `prompt_too_long`.")
    message: str
    type: str = Field(description="The error family, e.g. `invalid_request_error`.")
    param: str | None = Field(None, description="The request field or header at fault.")
    sku: str | None = Field(None, description="The SKU whose rule or provider refused.")
    limit: int | None = Field(None, description="prompt/lyrics too long: the SKU's maximum.")
    length: int | None = Field(
        None, description="prompt/lyrics too long: the counted length (code points after NFC)."
    )
    status: JobStatusName | None = Field(None, description="not_cancellable: the job's status now.")
    job_id: str | None = Field(None, description="The job that failed (502).")
    provider_code: str | None = Field(None, description="The upstream's own error code.")
    suggestion: str | None = Field(None, description="How to rephrase, when upstream said.")


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class JobAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "audio.generation.job",
                    "job_id": EXAMPLE_JOB_ID,
                    "status": Status.RUNNING,
                    "status_url": f"/v1/jobs/{EXAMPLE_JOB_ID}",
                }
            ]
        }
    )

    object: Literal["audio.generation.job"] = "audio.generation.job"
    job_id: str
    status: str
    status_url: str


class SavedTrack(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "audio.generation",
                    "job_id": EXAMPLE_JOB_ID,
                    "kind": "audio",
                    "url": EXAMPLE_SAVED_URL,
                    "duration_sec": 31.5,
                    "cost_usd": 0.045,
                    "balance_usd": 12.34,
                }
            ]
        }
    )

    object: Literal["audio.generation"] = "audio.generation"
    job_id: str
    kind: Literal["audio"] = "audio"
    url: str = Field(description="Permanent public URL of the MP3.")
    duration_sec: float
    cost_usd: float
    balance_usd: float


class GalleryItem(BaseModel):
    job_id: str
    url: str
    model: str
    prompt: str | None
    lyrics: str | None
    duration_sec: float
    cost_usd: float
    created_at: str
    shared: bool


class GalleryList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "list",
                    "data": [
                        {
                            "job_id": EXAMPLE_JOB_ID,
                            "url": EXAMPLE_SAVED_URL,
                            "model": "minimax-music",
                            "prompt": "indie folk, acoustic guitar, warm female vocal",
                            "lyrics": "[verse]\nMorning light on the river",
                            "duration_sec": 31.5,
                            "cost_usd": 0.045,
                            "created_at": EXAMPLE_CREATED_AT,
                            "shared": False,
                        }
                    ],
                    "next_cursor": f"{EXAMPLE_CREATED_AT}~{EXAMPLE_JOB_ID}",
                }
            ]
        }
    )

    object: Literal["list"] = "list"
    data: list[GalleryItem]
    next_cursor: str | None


class ShareLinkBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": EXAMPLE_JOB_ID,
                    "share_url": "http://127.0.0.1:8000/s/q3W9xJ0bF2kLr7Yt5NcVh8PaE1sDg4Mu",
                }
            ]
        }
    )

    job_id: str
    share_url: str = Field(description="Shown once: the token is stored only as a hash.")


class JobError(BaseModel):
    code: str
    message: str
    provider_code: str | None = None
    suggestion: str | None = None


class JobStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "audio.generation.job",
                    "job_id": EXAMPLE_JOB_ID,
                    "status": Status.SUCCEEDED,
                    "model": "elevenlabs-music",
                    "response_format": "mp3_44100_128",
                    "duration_sec": 30.0,
                    "cost_usd": 4.05,
                    "charged_usd": 4.05,
                    "error": None,
                    "url": None,
                    "audio_url": f"/v1/jobs/{EXAMPLE_JOB_ID}/audio",
                    "created_at": EXAMPLE_CREATED_AT,
                    "finished_at": EXAMPLE_FINISHED_AT,
                    "webhooks": [],
                }
            ]
        }
    )

    object: Literal["audio.generation.job"] = "audio.generation.job"
    job_id: str
    status: JobStatusName
    model: str
    response_format: str
    duration_sec: float | None = Field(None, description="Billed duration once succeeded.")
    cost_usd: float = Field(description="The price locked at submit time.")
    charged_usd: float = Field(description="What was charged: cost_usd once succeeded, else 0.")
    error: JobError | None = None
    url: str | None = Field(None, description="Permanent public URL when saved to blob.")
    audio_url: str | None = Field(None, description="Where to fetch the audio while retained.")
    created_at: str
    finished_at: str | None = None
    webhooks: list[dict[str, Any]] | None = Field(
        None, description="The webhook delivery log (id, url, event, state, attempts, ...)."
    )


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "waiting": 3}]})

    status: Literal["ok"]
    waiting: int = Field(description="Callers this process is holding open for their track.")


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {"database": "ok", "redis": "not used (embedded)", "storage": "ok"},
                }
            ]
        }
    )

    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="Each dependency: `ok`, `not used ...`, or `unavailable: <error>`."
    )


def error_responses(*statuses: int, examples: Iterable[str] = ()) -> dict[int | str, Any]:
    """The error answers of an operation: for each status the envelope, the named
    ERROR_EXAMPLES of that status (else the first of that status) and the headers they carry."""
    chosen = {name: ERROR_EXAMPLES[name] for name in examples}
    assert {e.status for e in chosen.values()} <= set(statuses), "an example of no listed status"
    responses: dict[int | str, Any] = {}
    for status in statuses:
        named = {n: e for n, e in chosen.items() if e.status == status}
        if not named:
            default = next(n for n, e in ERROR_EXAMPLES.items() if e.status == status)
            named = {default: ERROR_EXAMPLES[default]}
        responses[status] = _error_response(status, named)
    return responses


def _error_response(status: int, examples: dict[str, AppError]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "model": ErrorEnvelope,
        "description": STATUS_DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "examples": {
                    name: {
                        "summary": error.code if name == error.code else f"{error.code} ({name})",
                        "value": error.to_body(),
                    }
                    for name, error in examples.items()
                }
            }
        },
    }
    headers = sorted({h for error in examples.values() for h in error.headers})
    if headers:
        # A header is required when every example of the status carries it.
        response["headers"] = {
            h: ERROR_HEADERS[h] | {"required": all(h in e.headers for e in examples.values())}
            for h in headers
        }
    return response


# One Server-Sent Event of GET /v1/jobs/{id}/events (OpenAPI 3.1 has no itemSchema, so the
# text/event-stream schema describes each event, as tools that validate streams read it).
JOB_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "`<job_id>:<status>`"},
        "event": {
            "type": "string",
            "enum": list(Status),
        },
        "data": {
            "type": "string",
            "description": "The job as GET /v1/jobs/{id} shows it, as JSON; `succeeded` adds "
            "the save_to_blob answer's `kind` and `balance_usd`.",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/JobStatus"},
        },
    },
}

JOB_EVENT_EXAMPLE: dict[str, Any] = {
    "id": f"{EXAMPLE_JOB_ID}:{Status.RUNNING}",
    "event": Status.RUNNING,
    # An event is the job without its delivery log (common.jobs.present.event_body).
    "data": json.dumps(
        {k: v for k, v in JobStatus.model_json_schema()["examples"][0].items() if k != "webhooks"}
        | {"status": Status.RUNNING, "duration_sec": None, "charged_usd": 0, "audio_url": None}
        | {"finished_at": None}
    ),
}

AUDIO_CONTENT: dict[str, Any] = {
    ct: {"schema": {"type": "string", "format": "binary"}}
    for ct in sorted({f.content_type for f in FORMATS.values()})
}
