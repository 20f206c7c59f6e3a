"""A fake ElevenLabs Music API (spec/providers.md §1): compose and stream, errors and plan limits.

    with FakeElevenLabs() as fake:
        POST {fake.base_url}/v1/music?output_format=mp3_44100_128
             xi-api-key: el-test-key
             {"prompt": "...", "music_length_ms": 10000, "model_id": "music_v1"}
        -> 200 audio/mpeg, header song-id, body = 10 s of real MP3

Error kinds (fail_next / failure / failure_mix), besides the generic ones in server.py:

    401                   401 {"detail": {"status": "invalid_api_key", ...}}
    quota_exceeded        401 {"detail": {"status": "quota_exceeded", ...}}
    missing_permissions   401 {"detail": {"status": "missing_permissions", ...}}
    output_format_not_allowed   403 {"detail": {"status": "output_format_not_allowed", ...}}
    bad_prompt            400 {"detail": {"status": "bad_prompt", ...,
                                          "data": {"prompt_suggestion"}}}
    bad_composition_plan  400 {"detail": {"status": "bad_composition_plan", ...,
                                          "data": {"composition_plan_suggestion"}}}
    422                   422 {"detail": [{"loc", "msg", "type"}]}
    429                   429 legacy {"detail": {"status": "too_many_concurrent_requests", ...}}
    system_busy           429 legacy {"detail": {"status": "system_busy", ...}}
    429_new               429 {"detail": {"type": "rate_limit_error",
                                          "code": "concurrent_limit_exceeded", ...}}
    rate_limit_exceeded   429 the same current shape with code "rate_limit_exceeded"
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes import audio
from tests.fakes.server import FakeServer, RecordedRequest, Reply, json_reply

ROUTES = ("/v1/music", "/v1/music/stream")
MODELS = ("music_v1", "music_v2")
# MusicComposeRequestOutputFormat in the SDK (the reference's current list).
OUTPUT_FORMATS = (
    "auto",
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "mp3_48000_128",
    "mp3_48000_192",
    "mp3_48000_240",
    "mp3_48000_320",
    "pcm_8000",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_32000",
    "pcm_44100",
    "pcm_48000",
    "ulaw_8000",
    "alaw_8000",
    "opus_48000_32",
    "opus_48000_64",
    "opus_48000_96",
    "opus_48000_128",
    "opus_48000_192",
)
AUTO_FORMAT = {"music_v1": "mp3_44100_128", "music_v2": "mp3_48000_192"}
TIERS = ("free", "starter", "creator", "pro", "scale", "business")
PROMPT_MAX = 2000
LENGTH_MIN_MS, LENGTH_MAX_MS = 3000, 600_000
SECTION_MIN_MS, SECTION_MAX_MS = 3000, 120_000
PLAN_ITEMS_MAX, LINES_MAX, LINE_CHARS_MAX, STYLES_MAX = 30, 30, 200, 50
PROMPT_SUGGESTION = "an upbeat pop song about summer"


@dataclass(frozen=True)
class Song:
    """One successful generation."""

    song_id: str
    output_format: str
    length_ms: int
    model_id: str
    stream: bool


def required_tier(output_format: str) -> str | None:
    """The lowest plan allowed `output_format`: mp3 at 192 kbit/s and up needs Creator, PCM at
    44.1 kHz and up needs Pro (the reference names mp3 192k and pcm_44100; the faster 48 kHz
    variants are taken to sit in the same tier)."""
    spec = audio.elevenlabs_spec(output_format)
    if spec.kind == "mp3" and (spec.bitrate or 0) >= 192_000:
        return "creator"
    if spec.kind == "pcm" and spec.sample_rate >= 44100:
        return "pro"
    return None


def error_body(kind: str, *, max_concurrency: int | None = None) -> Reply:
    """The answer for one of FakeElevenLabs.error_kinds."""
    request_id = uuid.uuid4().hex
    limit = max_concurrency if max_concurrency is not None else 2
    legacy: dict[str, tuple[int, str]] = {
        "401": (401, "invalid_api_key"),
        "quota_exceeded": (401, "quota_exceeded"),
        "missing_permissions": (401, "missing_permissions"),
        "output_format_not_allowed": (403, "output_format_not_allowed"),
        "429": (429, "too_many_concurrent_requests"),
        "system_busy": (429, "system_busy"),
    }
    messages = {
        "invalid_api_key": "Invalid API key",
        "quota_exceeded": "This request exceeds your quota. You have 0 credits remaining, "
        "while 1500 credits are required for this request.",
        "missing_permissions": "The API key you used is missing the permission "
        "music_generation to execute this operation.",
        "output_format_not_allowed": "Requested output format pcm_44100 (PCM at 44100hz) is "
        "only allowed for Pro tier and above.",
        "too_many_concurrent_requests": "Too many concurrent requests. Your current "
        f"subscription is associated with a maximum of {limit} concurrent requests running "
        "in parallel. Please wait for one of them to finish or upgrade your subscription.",
        "system_busy": "We're experiencing a high volume of requests. Please try again later.",
    }
    if kind in legacy:
        status, code = legacy[kind]
        return json_reply(status, {"detail": {"status": code, "message": messages[code]}})
    if kind in ("429_new", "rate_limit_exceeded"):
        code = "concurrent_limit_exceeded" if kind == "429_new" else "rate_limit_exceeded"
        detail: dict[str, Any] = {
            "type": "rate_limit_error",
            "code": code,
            "message": "You have exceeded the concurrency limit of your plan."
            if kind == "429_new"
            else "You have exceeded the rate limit of your plan.",
            "status": code,
            "request_id": request_id,
            "param": None,
        }
        return json_reply(429, {"detail": detail})
    if kind == "bad_prompt":
        detail = {
            "status": "bad_prompt",
            "message": "The prompt references copyrighted material.",
            "data": {"prompt_suggestion": PROMPT_SUGGESTION},
        }
        return json_reply(400, {"detail": detail})
    if kind == "bad_composition_plan":
        suggestion = {
            "positive_global_styles": ["pop", "upbeat"],
            "negative_global_styles": [],
            "sections": [
                {
                    "section_name": "Verse",
                    "positive_local_styles": [],
                    "negative_local_styles": [],
                    "duration_ms": 10000,
                    "lines": ["sunshine on the water"],
                }
            ],
        }
        detail = {
            "status": "bad_composition_plan",
            "message": "The composition plan references copyrighted material.",
            "data": {"composition_plan_suggestion": suggestion},
        }
        return json_reply(400, {"detail": detail})
    if kind == "422":
        error = _error(["body", "prompt"], "Value error, prompt is not valid", "value_error")
        return json_reply(422, {"detail": [error]})
    raise ValueError(kind)


class FakeElevenLabs(FakeServer):
    """ElevenLabs Music on 127.0.0.1: `POST /v1/music` and `POST /v1/music/stream`."""

    error_kinds = frozenset(
        {
            "401",
            "quota_exceeded",
            "missing_permissions",
            "output_format_not_allowed",
            "bad_prompt",
            "bad_composition_plan",
            "422",
            "429",
            "system_busy",
            "429_new",
            "rate_limit_exceeded",
        }
    )

    def __init__(
        self,
        *,
        api_key: str = "el-test-key",
        tier: str = "pro",
        max_concurrency: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        seed: int = 0,
    ) -> None:
        self._initial_key, self._initial_tier = api_key, tier
        self._initial_concurrency = max_concurrency
        self._active = 0
        self._active_lock = threading.Lock()
        self.songs: list[Song] = []
        super().__init__(ssl_context=ssl_context, seed=seed)

    def reset_switches(self) -> None:
        self.api_key = self._initial_key
        # The account's plan: formats above it answer 403 output_format_not_allowed.
        self.tier = self._initial_tier
        # More admitted requests than this at once answer 429 too_many_concurrent_requests.
        self.max_concurrency = self._initial_concurrency
        # The length used when a prompt comes without music_length_ms ("the model picks").
        self.default_length_ms = 30_000
        self.songs.clear()

    @property
    def last_song(self) -> Song:
        return self.songs[-1]

    def admit(self, request: RecordedRequest) -> Reply | None:
        if request.path not in ROUTES:
            return None
        with self._active_lock:
            limit = self.max_concurrency
            if limit is not None and self._active >= limit:
                reply = error_body("429", max_concurrency=limit)
                reply.headers.update(self._concurrency_headers(self._active))
                return reply
            self._active += 1
        return None

    def release(self, request: RecordedRequest) -> None:
        if request.path in ROUTES:
            with self._active_lock:
                self._active -= 1

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        if request.path not in ROUTES:
            return json_reply(404, {"detail": "Not Found"})
        if request.method != "POST":
            return json_reply(405, {"detail": "Method Not Allowed"})
        if failure in self.error_kinds:
            return error_body(failure, max_concurrency=self.max_concurrency)
        if request.headers.get("xi-api-key") != self.api_key:
            return error_body("401")
        errors, song = self._validate(request)
        if errors:
            return json_reply(422, {"detail": errors})
        assert song is not None
        # "auto" lets the service pick, so only an explicit format is held against the plan.
        explicit = request.query.get("output_format", "auto") != "auto"
        needed = required_tier(song.output_format) if explicit else None
        if needed and TIERS.index(self.tier) < TIERS.index(needed):
            message = (
                f"Requested output format {song.output_format} is only allowed for "
                f"{needed.capitalize()} tier and above."
            )
            detail = {"status": "output_format_not_allowed", "message": message}
            return json_reply(403, {"detail": detail})
        return self._success(song, failure)

    def _success(self, song: Song, failure: str | None) -> Reply:
        spec = audio.elevenlabs_spec(song.output_format)
        data = audio.render(spec, song.length_ms)
        if failure == "truncated":
            data = audio.truncate(data, spec)
        elif failure == "corrupt":
            data = audio.garble(data, self.rng)
        self.songs.append(song)
        headers = {"Content-Type": spec.content_type, "song-id": song.song_id}
        if self.max_concurrency is not None:
            headers.update(self._concurrency_headers(self._active))
        return Reply(200, data, headers, chunked=song.stream)

    def _concurrency_headers(self, current: int) -> dict[str, str]:
        return {
            "current-concurrent-requests": str(current),
            "maximum-concurrent-requests": str(self.max_concurrency),
        }

    def _validate(self, request: RecordedRequest) -> tuple[list[dict[str, Any]], Song | None]:
        """FastAPI-style validation: every error at once, as a list of {loc, msg, type}."""
        errors: list[dict[str, Any]] = []
        output_format = request.query.get("output_format", "auto")
        if output_format not in OUTPUT_FORMATS:
            allowed = ", ".join(repr(name) for name in OUTPUT_FORMATS)
            errors.append(_error(["query", "output_format"], f"Input should be {allowed}", "enum"))
        body = _parse_json(request.body)
        if body is _INVALID:
            return [*errors, _error(["body", 0], "JSON decode error", "json_invalid")], None
        if not isinstance(body, dict):
            msg = "Input should be a valid dictionary or object to extract fields from"
            return [*errors, _error(["body"], msg, "model_attributes_type")], None
        model_id = body.get("model_id", "music_v1")
        if model_id not in MODELS:
            errors.append(_error(["body", "model_id"], "Input should be 'music_v1' or 'music_v2'"))
        errors += _check_fields(body)
        length_ms: int | None = None
        if "composition_plan" in body and body["composition_plan"] is not None:
            if model_id in MODELS:
                plan_errors, length_ms = _check_plan(body["composition_plan"], model_id)
                errors += plan_errors
        elif isinstance(body.get("music_length_ms"), int):
            length_ms = body["music_length_ms"]
        if errors:
            return errors, None
        if output_format == "auto":
            output_format = AUTO_FORMAT[model_id]
        song = Song(
            song_id=str(uuid.uuid4()),
            output_format=output_format,
            length_ms=length_ms or self.default_length_ms,
            model_id=model_id,
            stream=request.path.endswith("/stream"),
        )
        return [], song


_INVALID = object()


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return _INVALID


def _error(loc: list[str | int], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _check_fields(body: dict[str, Any]) -> list[dict[str, Any]]:
    """prompt / composition_plan exclusivity, prompt length, music_length_ms and flag types."""
    errors: list[dict[str, Any]] = []
    prompt, plan = body.get("prompt"), body.get("composition_plan")
    if prompt is not None and not isinstance(prompt, str):
        errors.append(_error(["body", "prompt"], "Input should be a valid string", "string_type"))
    elif isinstance(prompt, str) and len(prompt) > PROMPT_MAX:
        msg = f"String should have at most {PROMPT_MAX} characters"
        errors.append(_error(["body", "prompt"], msg, "string_too_long"))
    has_prompt = isinstance(prompt, str) and bool(prompt.strip())
    if has_prompt and plan is not None:
        msg = "Value error, Only one of prompt or composition_plan may be provided"
        errors.append(_error(["body"], msg))
    elif not has_prompt and plan is None:
        msg = "Value error, Either prompt or composition_plan must be provided"
        errors.append(_error(["body"], msg))
    length = body.get("music_length_ms")
    if length is not None:
        if not isinstance(length, int) or isinstance(length, bool):
            msg = "Input should be a valid integer"
            errors.append(_error(["body", "music_length_ms"], msg, "int_type"))
        elif plan is not None:
            msg = "Value error, music_length_ms cannot be used with a composition_plan"
            errors.append(_error(["body", "music_length_ms"], msg))
        elif length < LENGTH_MIN_MS:
            msg = f"Input should be greater than or equal to {LENGTH_MIN_MS}"
            errors.append(_error(["body", "music_length_ms"], msg))
        elif length > LENGTH_MAX_MS:
            msg = f"Input should be less than or equal to {LENGTH_MAX_MS}"
            errors.append(_error(["body", "music_length_ms"], msg))
    instrumental = body.get("force_instrumental")
    if instrumental is not None:
        if not isinstance(instrumental, bool):
            msg = "Input should be a valid boolean"
            errors.append(_error(["body", "force_instrumental"], msg, "bool_type"))
        elif plan is not None:
            msg = "Value error, force_instrumental can only be used with a prompt"
            errors.append(_error(["body", "force_instrumental"], msg))
    return errors


def _check_plan(plan: Any, model_id: str) -> tuple[list[dict[str, Any]], int]:
    """Validate a composition plan (sections for music_v1, chunks for music_v2); its length."""
    base: list[str | int] = ["body", "composition_plan"]
    items_key = "sections" if model_id == "music_v1" else "chunks"
    if not isinstance(plan, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [_error(base, msg, "model_attributes_type")], 0
    items = plan.get(items_key)
    if not isinstance(items, list) or not 1 <= len(items) <= PLAN_ITEMS_MAX:
        msg = f"Value error, {items_key} must be a list of 1 to {PLAN_ITEMS_MAX} items"
        return [_error([*base, items_key], msg)], 0
    errors: list[dict[str, Any]] = []
    style_keys = ["positive_global_styles", "negative_global_styles"]
    errors += _check_styles(plan, style_keys, base)
    total = 0
    for index, item in enumerate(items):
        loc: list[str | int] = [*base, items_key, index]
        if not isinstance(item, dict):
            errors.append(_error(loc, "Input should be a valid dictionary", "dict_type"))
            continue
        duration = item.get("duration_ms")
        low = SECTION_MIN_MS if model_id == "music_v1" else 1
        if not isinstance(duration, int) or isinstance(duration, bool):
            errors.append(_error([*loc, "duration_ms"], "Input should be a valid integer"))
        elif not low <= duration <= SECTION_MAX_MS:
            msg = f"Value error, duration_ms must be between {low} and {SECTION_MAX_MS}"
            errors.append(_error([*loc, "duration_ms"], msg))
        else:
            total += duration
        if model_id == "music_v1":
            errors += _check_section(item, loc)
        else:
            if not isinstance(item.get("text"), str):
                errors.append(_error([*loc, "text"], "Input should be a valid string"))
            errors += _check_styles(item, ["positive_styles", "negative_styles"], loc)
    return errors, total


def _check_section(section: dict[str, Any], loc: list[str | int]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    name = section.get("section_name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        msg = "Value error, section_name must be 1 to 100 characters"
        errors.append(_error([*loc, "section_name"], msg))
    errors += _check_styles(section, ["positive_local_styles", "negative_local_styles"], loc)
    lines = section.get("lines", [])
    if not isinstance(lines, list) or len(lines) > LINES_MAX:
        msg = f"Value error, lines must be a list of at most {LINES_MAX} items"
        errors.append(_error([*loc, "lines"], msg))
    elif any(not isinstance(line, str) or len(line) > LINE_CHARS_MAX for line in lines):
        msg = f"Value error, each line must be a string of at most {LINE_CHARS_MAX} characters"
        errors.append(_error([*loc, "lines"], msg))
    return errors


def _check_styles(
    owner: dict[str, Any], keys: list[str], loc: list[str | int]
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for key in keys:
        styles = owner.get(key, [])
        ok = isinstance(styles, list) and all(isinstance(s, str) for s in styles)
        if not ok or len(styles) > STYLES_MAX:
            msg = f"Value error, {key} must be a list of at most {STYLES_MAX} strings"
            errors.append(_error([*loc, key], msg))
    return errors
