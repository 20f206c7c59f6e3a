"""A fake MiniMax Music API (spec/providers.md §2) and the HTTPS host that serves its audio URLs.

    with FakeMiniMax() as fake:
        POST {fake.base_url}/v1/music_generation
             Authorization: Bearer mm-test-key
             {"model": "music-2.6", "prompt": "...", "lyrics": "[Verse]\\n...",
              "audio_setting": {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"},
              "output_format": "hex"}
        -> 200 {"data": {"audio": "<hex>", "status": 2}, "trace_id": ..., "extra_info": {...},
                "analysis_info": null, "base_resp": {"status_code": 0, "status_msg": "success"}}

Failures come as HTTP 200 with a non-zero `base_resp.status_code`, as the reference expects:
every code in STATUS_MESSAGES is a failure kind ("1002", "1004", "1008", "1026", "1041", "2013",
...). "http401", "http403", "http408", "http429" and "http504" answer with that real HTTP status
(and a base_resp body); the generic kinds are in server.py.

With `"output_format": "url"`, `data.audio` is `https://cdn.fake-minimax.test:<file_port>/music/
<id>.mp3`, served over TLS by `fake.files` with a certificate for that name only (trust
`fake.ca_pem_path`; map the name to 127.0.0.1 in the client). `fake.files` is a FakeServer too:
its own switches (latency, hang, slow_body, truncated, ...) apply to downloads.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any, Self

import trustme

from tests.fakes import audio
from tests.fakes.server import FakeServer, RecordedRequest, Reply, json_reply

ENDPOINT = "/v1/music_generation"
FILE_HOST = "cdn.fake-minimax.test"
MODELS = ("music-2.6", "music-2.6-free", "music-2.5+", "music-2.5", "music-2.0", "music-1.5")
# The models with the native is_instrumental / lyrics_optimizer flags (the CLI works around their
# absence on music-2.5 with lyrics; music-2.0 and music-1.5 predate them).
FLAG_MODELS = frozenset({"music-2.6", "music-2.6-free", "music-2.5+"})
PROMPT_MAX, LYRICS_MAX = 2000, 3500
# Maximum prompt and lyrics lengths of the older models (the reference's legacy limits).
LEGACY_MAX = {"music-1.5": (300, 600), "music-2.0": (300, 3000)}
SAMPLE_RATES = (16000, 24000, 32000, 44100)
BITRATES = (32000, 64000, 128000, 256000)
AUDIO_FORMATS = ("mp3", "wav", "pcm")
DEFAULT_SETTING = {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"}
STATUS_MESSAGES = {
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded(RPM)",
    1004: "login fail: Please carry the API secret key in the 'Authorization' field of the "
    "request header",
    1008: "insufficient balance",
    1024: "internal error",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1033: "system error",
    1039: "token limit",
    1041: "conn limit",
    1042: "invisible character ratio limit",
    2013: "invalid params, lyrics is required",
    2045: "rate growth limit",
    2049: "invalid api key",
    2056: "usage limit exceeded",
}
HTTP_KINDS = {"http401": (401, 1004), "http403": (403, 1004), "http408": (408, 1001)}
HTTP_KINDS |= {"http429": (429, 1002), "http504": (504, 1001)}
# How long a song is: the fake's stand-in for "the length follows the lyrics".
SECTION_MS, LINE_MS, SONG_MAX_MS = 8000, 3000, 240_000
INSTRUMENTAL_MS = 30_000
# lyrics_optimizer writes its own words: taken as two sections of four lines.
OPTIMIZED_MS = 2 * SECTION_MS + 8 * LINE_MS
_TAG = re.compile(r"^\[[^\]]+\]$")


@dataclass(frozen=True)
class Song:
    """One successful generation."""

    trace_id: str
    model: str
    duration_ms: int
    output_format: str
    size: int
    audio_url: str | None


def song_length_ms(lyrics: str, *, instrumental: bool, optimizer: bool = False) -> int:
    """8 s per structure tag plus 3 s per sung line (capped); 30 s for an instrumental."""
    if instrumental:
        return INSTRUMENTAL_MS
    lines = [line.strip() for line in lyrics.splitlines() if line.strip()]
    if optimizer and not lines:
        return OPTIMIZED_MS
    tags = sum(1 for line in lines if _TAG.match(line))
    sung = len(lines) - tags
    if sung == 0:
        return INSTRUMENTAL_MS  # only tags such as "[Inst]": nothing is sung
    return min(SONG_MAX_MS, SECTION_MS * tags + LINE_MS * sung)


def base_resp(code: int, message: str | None = None) -> dict[str, Any]:
    """An error body: a trace id and a non-zero base_resp."""
    status_msg = message or STATUS_MESSAGES.get(code, "error")
    return {
        "trace_id": uuid.uuid4().hex,
        "base_resp": {"status_code": code, "status_msg": status_msg},
    }


@dataclass(frozen=True)
class _Order:
    model: str
    lyrics: str
    instrumental: bool
    optimizer: bool
    output_format: str
    sample_rate: int
    bitrate: int
    audio_format: str


class FakeMiniMaxFiles(FakeServer):
    """The HTTPS file host behind MiniMax audio URLs (a certificate for `host` only)."""

    def __init__(self, *, host: str = FILE_HOST, seed: int = 0) -> None:
        self.host = host
        self._ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(host, key_type=trustme.KeyType.ECDSA).configure_cert(context)
        context.sni_callback = self._on_sni
        self._files: dict[str, tuple[bytes, audio.AudioSpec]] = {}
        self._ca_pem_path: str | None = None
        self.sni_names: list[str | None] = []
        super().__init__(ssl_context=context, seed=seed)

    def reset_switches(self) -> None:
        # When set, every download answers 302 with this Location instead of the file.
        self.redirect_to: str | None = None
        self.sni_names.clear()

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    @property
    def ca_pem_path(self) -> str:
        """A PEM file with the CA that signed the file host's certificate (while started)."""
        if self._ca_pem_path is None:
            raise RuntimeError("the file server is not started")
        return self._ca_pem_path

    def start(self) -> Self:
        if self._ca_pem_path is None:
            fd, self._ca_pem_path = tempfile.mkstemp(prefix="fake-minimax-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as pem:
                pem.write(self.ca_pem)
        return super().start()

    def stop(self) -> None:
        super().stop()
        if self._ca_pem_path is not None:
            os.unlink(self._ca_pem_path)
            self._ca_pem_path = None

    def put(self, path: str, data: bytes, spec: audio.AudioSpec) -> None:
        """Serve `data` at `path` from now on."""
        self._files[path] = (data, spec)

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _oss_error(405, "MethodNotAllowed", "The specified method is not allowed.")
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        if host != self.host:
            return _oss_error(404, "NoSuchBucket", "The specified bucket does not exist.")
        if self.redirect_to is not None:
            return Reply(302, b"", {"Location": self.redirect_to})
        entry = self._files.get(request.path)
        if entry is None:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
        data, spec = entry
        if failure == "truncated":
            data = audio.truncate(data, spec)
        elif failure == "corrupt":
            data = audio.garble(data, self.rng)
        return Reply(200, data, {"Content-Type": spec.content_type})

    def _on_sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        self.sni_names.append(name)


class FakeMiniMax(FakeServer):
    """MiniMax Music on 127.0.0.1: `POST /v1/music_generation`, plus its audio file host."""

    error_kinds = frozenset({str(code) for code in STATUS_MESSAGES} | set(HTTP_KINDS))

    def __init__(
        self,
        *,
        api_key: str = "mm-test-key",
        file_host: str = FILE_HOST,
        ssl_context: ssl.SSLContext | None = None,
        seed: int = 0,
    ) -> None:
        self._initial_key = api_key
        self.file_host = file_host
        self.files = FakeMiniMaxFiles(host=file_host, seed=seed)
        self.songs: list[Song] = []
        super().__init__(ssl_context=ssl_context, seed=seed)

    def reset_switches(self) -> None:
        self.api_key = self._initial_key
        # A well-formed but wrong key answers this code (1004; 2049 "invalid api key" is the
        # other code the reference lists for it).
        self.bad_key_code = 1004
        # Overrides the length derived from the lyrics.
        self.duration_ms: int | None = None
        self.last_duration_ms: int | None = None
        # Returned verbatim as the audio URL in url mode instead of the file host's URL.
        self.audio_url_override: str | None = None
        # Which key of `data` carries the URL in url mode ("audio" per the reference; one CLI
        # version reads "audio_url").
        self.url_field = "audio"
        # Enforce the older models' shorter prompt/lyrics maxima (music-2.0: 300/3000).
        self.legacy_limits = True
        self.files.reset()
        self.songs.clear()

    def start(self) -> Self:
        self.files.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self.files.stop()

    @property
    def file_port(self) -> int:
        return self.files.port

    @property
    def file_requests(self) -> list[RecordedRequest]:
        return self.files.requests

    @property
    def ca_pem_path(self) -> str:
        return self.files.ca_pem_path

    @property
    def file_redirect_to(self) -> str | None:
        """When set, the file host answers 302 with this Location instead of the file."""
        return self.files.redirect_to

    @file_redirect_to.setter
    def file_redirect_to(self, url: str | None) -> None:
        self.files.redirect_to = url

    @property
    def last_song(self) -> Song:
        return self.songs[-1]

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        if request.path != ENDPOINT:
            return Reply(404, b"404 page not found", {"Content-Type": "text/plain"})
        if request.method != "POST":
            return Reply(405, b"405 method not allowed", {"Content-Type": "text/plain"})
        if failure in HTTP_KINDS:
            status, code = HTTP_KINDS[failure]
            return json_reply(status, base_resp(code))
        if failure in self.error_kinds:
            return json_reply(200, base_resp(int(failure)))
        code = self._check_auth(request.headers.get("authorization", ""))
        if code:
            return json_reply(200, base_resp(code))
        order = self._check(request.json)
        if isinstance(order, str):
            return json_reply(200, base_resp(2013, f"invalid params, {order}"))
        return json_reply(200, self._generate(order, failure))

    def _check_auth(self, header: str) -> int:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 1004
        return 0 if token.strip() == self.api_key else self.bad_key_code

    def _generate(self, order: _Order, failure: str | None) -> dict[str, Any]:
        spec = audio.minimax_spec(
            sample_rate=order.sample_rate, bitrate=order.bitrate, fmt=order.audio_format
        )
        duration = self.duration_ms or song_length_ms(
            order.lyrics, instrumental=order.instrumental, optimizer=order.optimizer
        )
        data = audio.render(spec, duration)
        # The extra_info fields describe the song as generated, so a truncated answer still
        # claims the full length and size: the client has to notice the mismatch.
        size = len(data)
        if failure == "truncated":
            data = audio.truncate(data, spec)
        elif failure == "corrupt":
            data = audio.garble(data, self.rng)
        trace_id = uuid.uuid4().hex
        url = None
        if order.output_format == "url":
            path = f"/music/{uuid.uuid4().hex}.{spec.extension}"
            self.files.put(path, data, spec)
            url = self.audio_url_override or f"https://{self.file_host}:{self.file_port}{path}"
        self.last_duration_ms = duration
        self.songs.append(Song(trace_id, order.model, duration, order.output_format, size, url))
        return {
            "data": {self.url_field if url else "audio": url or data.hex(), "status": 2},
            "trace_id": trace_id,
            "extra_info": {
                "music_duration": duration,
                "music_sample_rate": order.sample_rate,
                "music_channel": 2,
                "bitrate": order.bitrate,
                "music_size": size,
            },
            "analysis_info": None,
            "base_resp": {"status_code": 0, "status_msg": "success"},
        }

    def _check(self, body: Any) -> _Order | str:
        """The request as an order, or what is wrong with it (the text after "invalid params,")."""
        if not isinstance(body, dict):
            return "request body must be a JSON object"
        model = body.get("model")
        if model not in MODELS:
            return f"model {model!r} is not supported"
        for flag in ("is_instrumental", "lyrics_optimizer", "stream", "aigc_watermark"):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                return f"{flag} must be a boolean"
        instrumental = body.get("is_instrumental") is True
        optimizer = body.get("lyrics_optimizer") is True
        for flag, on in (("is_instrumental", instrumental), ("lyrics_optimizer", optimizer)):
            if on and model not in FLAG_MODELS:
                return f"{flag} is not supported by model {model}"
        prompt, lyrics = body.get("prompt") or "", body.get("lyrics") or ""
        if not isinstance(prompt, str) or not isinstance(lyrics, str):
            return "prompt and lyrics must be strings"
        prompt_max, lyrics_max = PROMPT_MAX, LYRICS_MAX
        if self.legacy_limits:
            prompt_max, lyrics_max = LEGACY_MAX.get(model, (PROMPT_MAX, LYRICS_MAX))
        if len(prompt) > prompt_max:
            return f"prompt must be at most {prompt_max} characters"
        if len(lyrics) > lyrics_max:
            return f"lyrics must be at most {lyrics_max} characters"
        if (instrumental or optimizer) and not prompt.strip():
            return "prompt is required when is_instrumental or lyrics_optimizer is set"
        if not (instrumental or optimizer) and not lyrics.strip():
            return "lyrics is required"
        output_format = body.get("output_format") or "hex"
        if output_format not in ("hex", "url"):
            return f"output_format {output_format!r} is not supported"
        if body.get("stream") is True:
            return "stream is not supported by this fake"
        setting = _check_setting(body.get("audio_setting"))
        if isinstance(setting, str):
            return setting
        sample_rate, bitrate, audio_format = setting
        return _Order(
            model,
            lyrics,
            instrumental,
            optimizer,
            output_format,
            sample_rate,
            bitrate,
            audio_format,
        )


def _check_setting(setting: Any) -> tuple[int, int, str] | str:
    if setting is None:
        setting = {}
    if not isinstance(setting, dict):
        return "audio_setting must be an object"
    merged = DEFAULT_SETTING | {k: v for k, v in setting.items() if v is not None}
    sample_rate, bitrate, audio_format = merged["sample_rate"], merged["bitrate"], merged["format"]
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        return f"audio_setting.sample_rate {sample_rate!r} is not supported"
    if isinstance(bitrate, bool) or bitrate not in BITRATES:
        return f"audio_setting.bitrate {bitrate!r} is not supported"
    if audio_format not in AUDIO_FORMATS:
        return f"audio_setting.format {audio_format!r} is not supported"
    return int(sample_rate), int(bitrate), str(audio_format)


def _oss_error(status: int, code: str, message: str) -> Reply:
    # The file host answers errors like an object store (XML), not with MiniMax's JSON, so a
    # client cannot mistake a failed download for a base_resp.
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{uuid.uuid4().hex.upper()}</RequestId></Error>\n"
    )
    return Reply(status, body.encode(), {"Content-Type": "application/xml"})
