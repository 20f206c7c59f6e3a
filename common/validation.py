"""Validation of a music request body. Pure: no I/O, no session. Runs before any hold."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from common.audio.formats import DEFAULT_FORMAT, FORMATS
from common.errors import (
    InvalidDurationError,
    InvalidFormatError,
    InvalidRequestError,
    LyricsTooLongError,
    NotAMusicModelError,
    PromptTooLongError,
)
from common.pricing import DEFAULT_SKU, SKUS, Sku

MAX_WEBHOOK_URL_LENGTH = 2000
MIN_LENGTH_MS = 1_000
MAX_LENGTH_MS = 300_000
DEFAULT_LENGTH_MS = 30_000


@dataclass(frozen=True)
class MusicRequest:
    sku: Sku
    prompt: str | None
    lyrics: str | None
    music_length_ms: int
    response_format: str
    webhook_url: str | None = None  # where to POST the job when it ends (an extension)


# No request needs more; deeper bodies would only reach recursion limits further on.
MAX_BODY_DEPTH = 32


class _HugeInteger:
    """A JSON integer longer than Python converts to int (sys.get_int_max_str_digits)."""


def decode_json_body(raw: bytes) -> Any:
    """Decode a request body as strict JSON, or raise InvalidRequestError naming what is wrong
    (and where: `param` is the path of the field). Refused: text that is not JSON, NaN and
    Infinity, nesting deeper than Python's recursion allows, integers too long to convert, and
    strings holding a lone UTF-16 surrogate (valid JSON escapes, but not text)."""
    try:
        body = json.loads(raw, parse_int=_parse_int, parse_constant=_refuse_constant)
        refused = next(
            ((path, value) for path, value in _leaves(body, "") if not _acceptable(value)), None
        )
    except RecursionError as exc:
        raise InvalidRequestError(
            f"The body is nested more than {MAX_BODY_DEPTH} levels deep."
        ) from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and NaN/Infinity
        raise InvalidRequestError(f"The body is not valid JSON: {exc}.") from exc
    if refused is None:
        return body
    path, value = refused
    what = (
        f"a number with more than {sys.get_int_max_str_digits()} digits"
        if isinstance(value, _HugeInteger)
        else "a lone UTF-16 surrogate (an escape such as \\ud800 that is not a character)"
    )
    raise InvalidRequestError(f"{path or 'The body'} holds {what}.", param=path or None)


def _acceptable(value: Any) -> bool:
    if isinstance(value, _HugeInteger):
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _parse_int(digits: str) -> int | _HugeInteger:
    try:
        return int(digits)
    except ValueError:
        return _HugeInteger()


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _leaves(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(path, value) of every key and scalar, the path spelled `a.b[2]` as `param` names it."""
    if depth > MAX_BODY_DEPTH:
        raise RecursionError(f"deeper than {MAX_BODY_DEPTH}")
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _leaves(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]", depth + 1)
    else:
        yield path, value


def parse_save_to_blob(value: str | None) -> bool:
    """The `save_to_blob` query parameter: `1`/`true` saves, `0`/`false`/absent streams; any
    other value is refused, so a caller who asked to save never silently gets bytes."""
    if value is None or value in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise InvalidRequestError(
        f"save_to_blob is {value[:20]!r}; use 1 (or true) to save the track, 0 (or false) not to.",
        param="save_to_blob",
    )


def nfc_length(text: str) -> int:
    """Length in Unicode code points after NFC normalisation (what the limits count)."""
    return len(unicodedata.normalize("NFC", text))


def parse_music_request(body: Any) -> MusicRequest:
    """Check a decoded JSON body against the contract; raise the first AppError found."""
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    sku = _parse_model(body)
    length_ms = _parse_length(body)
    response_format = _parse_format(body)
    prompt = _optional_str(body, "prompt")
    # elevenlabs-music ignores lyrics entirely: not even their type is checked.
    lyrics = _optional_str(body, "lyrics") if sku.lyrics_max is not None else None
    _check_text(sku, prompt, lyrics)
    return MusicRequest(sku, prompt, lyrics, length_ms, response_format, _parse_webhook(body))


def _parse_model(body: dict[str, Any]) -> Sku:
    model = body.get("model")
    if model is None:
        return SKUS[DEFAULT_SKU]
    if not isinstance(model, str):
        raise InvalidRequestError("model must be a string.", param="model")
    if model not in SKUS:
        raise NotAMusicModelError(
            f"{model!r} is not a music model; use one of: {', '.join(SKUS)}.", param="model"
        )
    return SKUS[model]


def _parse_length(body: dict[str, Any]) -> int:
    given = {k: body[k] for k in ("music_length_ms", "duration_ms") if body.get(k) is not None}
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidDurationError(
                f"{name} must be an integer number of milliseconds.", param=name
            )
        if not MIN_LENGTH_MS <= value <= MAX_LENGTH_MS:
            raise InvalidDurationError(
                f"{name} is {value}; it must be between {MIN_LENGTH_MS} and {MAX_LENGTH_MS}.",
                param=name,
            )
    if len(set(given.values())) > 1:
        raise InvalidDurationError(
            "music_length_ms and duration_ms are aliases; when both are given they must agree.",
            param="duration_ms",
        )
    return next(iter(given.values()), DEFAULT_LENGTH_MS)


def _parse_format(body: dict[str, Any]) -> str:
    value = body.get("response_format")
    if value is None:
        return DEFAULT_FORMAT
    if not isinstance(value, str):
        raise InvalidRequestError("response_format must be a string.", param="response_format")
    if value not in FORMATS:
        raise InvalidFormatError(
            f"{value!r} is not a supported response_format; use one of: {', '.join(FORMATS)}.",
            param="response_format",
        )
    return value


def _parse_webhook(body: dict[str, Any]) -> str | None:
    """The URL's form only; whether it can be delivered to (scheme allowed, host public) is
    decided with the settings and the resolver, before the hold (common.webhooks.service)."""
    url = _optional_str(body, "webhook_url")
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # "Invalid IPv6 URL", a port out of range or not a number
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or len(url) > MAX_WEBHOOK_URL_LENGTH
    ):
        raise InvalidRequestError(
            "webhook_url must be an absolute https URL with a valid host and port, of at most "
            f"{MAX_WEBHOOK_URL_LENGTH} characters.",
            param="webhook_url",
        )
    return url


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string.", param=name)
    if value is not None and "\x00" in value:
        # JSON allows U+0000; no text column (and no provider) does.
        raise InvalidRequestError(f"{name} must not contain the NUL character.", param=name)
    return value


def _check_text(sku: Sku, prompt: str | None, lyrics: str | None) -> None:
    has_prompt = bool(prompt and prompt.strip())
    has_lyrics = bool(lyrics and lyrics.strip())
    if sku.lyrics_max is None and not has_prompt:
        raise InvalidRequestError(f"prompt is required for {sku.id}.", param="prompt", sku=sku.id)
    if sku.lyrics_max is not None and not (has_prompt or has_lyrics):
        raise InvalidRequestError(
            f"{sku.id} needs a prompt or lyrics (at least one non-blank).",
            param="prompt",
            sku=sku.id,
        )
    _check_limit(sku, "prompt", prompt, sku.prompt_max, PromptTooLongError)
    if sku.lyrics_max is not None:
        _check_limit(sku, "lyrics", lyrics, sku.lyrics_max, LyricsTooLongError)


def _check_limit(
    sku: Sku, field: str, text: str | None, limit: int, error: type[InvalidRequestError]
) -> None:
    if text is None:
        return
    count = nfc_length(text)
    if count > limit:
        raise error(
            f"{field} is {count} characters after NFC normalisation; "
            f"{sku.id} allows at most {limit}",
            param=field,
            sku=sku.id,
            extra={"limit": limit, "length": count},
        )
