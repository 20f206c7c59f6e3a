"""Schemas for the OpenAPI document. Validation itself is common.validation (one rule set)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from common.audio.formats import DEFAULT_FORMAT, FORMATS
from common.pricing import DEFAULT_SKU, SKUS

ModelName = Literal["elevenlabs-music", "minimax-music", "minimax-music-pro"]
assert set(ModelName.__args__) == set(SKUS) and DEFAULT_SKU == "elevenlabs-music"  # type: ignore[attr-defined]


class MusicRequestBody(BaseModel):
    model: ModelName = Field("elevenlabs-music", description="The music SKU.")
    prompt: str | None = Field(
        None,
        description="Required for elevenlabs-music (≤ 2000 characters after NFC); optional for "
        "MiniMax SKUs (≤ 200).",
    )
    lyrics: str | None = Field(
        None,
        description="MiniMax SKUs only (≤ 600 characters after NFC). Tags on their own lines: "
        "[verse] [chorus] [bridge] [intro] [outro] [Instrumental].",
    )
    music_length_ms: int | None = Field(
        30000, ge=1000, le=300000, description="Requested length; elevenlabs-music bills it."
    )
    duration_ms: int | None = Field(
        None, ge=1000, le=300000, description="Alias of music_length_ms."
    )
    response_format: str = Field(
        DEFAULT_FORMAT,
        description="One of: " + ", ".join(FORMATS),
        json_schema_extra={"enum": list(FORMATS)},
    )


class ErrorDetail(BaseModel):
    code: str
    message: str
    type: str
    param: str | None = None
    sku: str | None = None
    job_id: str | None = None
    provider_code: str | None = Field(None, description="The upstream's own error code.")
    suggestion: str | None = Field(None, description="How to rephrase, when upstream said.")


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class JobAccepted(BaseModel):
    object: Literal["audio.generation.job"] = "audio.generation.job"
    job_id: str
    status: str
    status_url: str


class SavedTrack(BaseModel):
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
    object: Literal["list"] = "list"
    data: list[GalleryItem]
    next_cursor: str | None


class ShareLinkBody(BaseModel):
    job_id: str
    share_url: str = Field(description="Shown once: the token is stored only as a hash.")


JobStatusName = Literal["queued", "running", "succeeded", "failed", "expired"]


class JobError(BaseModel):
    code: str
    message: str
    provider_code: str | None = None
    suggestion: str | None = None


class JobStatus(BaseModel):
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


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorEnvelope} for status in statuses}


# One Server-Sent Event of GET /v1/jobs/{id}/events (OpenAPI 3.1 has no itemSchema, so the
# text/event-stream schema describes each event, as tools that validate streams read it).
JOB_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "`<job_id>:<status>`"},
        "event": {
            "type": "string",
            "enum": list(get_args(JobStatusName)),
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

AUDIO_CONTENT: dict[str, Any] = {
    ct: {"schema": {"type": "string", "format": "binary"}}
    for ct in sorted({f.content_type for f in FORMATS.values()})
}
