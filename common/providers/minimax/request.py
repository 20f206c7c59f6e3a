"""Building a MiniMax `music_generation` body from ours: tag mapping and instrumentals. Pure."""

from __future__ import annotations

import re
from typing import Any

from common.audio.lyrics import is_instrumental

# Models with an `is_instrumental` flag; older ones get lyrics "[Inst]" instead.
INSTRUMENTAL_FLAG_MODELS = frozenset({"music-2.5", "music-2.5+", "music-2.6", "music-2.6-free"})
# MiniMax needs a prompt with is_instrumental; ours may have only "[Instrumental]".
DEFAULT_INSTRUMENTAL_PROMPT = "Instrumental music"
AUDIO_SETTING = {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"}
TAG_MAP = {
    "verse": "[Verse]",
    "chorus": "[Chorus]",
    "bridge": "[Bridge]",
    "intro": "[Intro]",
    "outro": "[Outro]",
    "instrumental": "[Inst]",
}
_TAG_LINE = re.compile(r"^\s*\[\s*([A-Za-z]+)\s*\]\s*$")


def map_lyrics(lyrics: str) -> str:
    """Our structure tags as MiniMax spells them (tags on their own lines only)."""

    def one(line: str) -> str:
        match = _TAG_LINE.match(line)
        if match and match.group(1).lower() in TAG_MAP:
            return TAG_MAP[match.group(1).lower()]
        return line

    return "\n".join(one(line) for line in lyrics.strip().splitlines())


def build_body(
    *, model: str, prompt: str | None, lyrics: str | None, output_format: str
) -> dict[str, Any]:
    """The JSON body for `POST /v1/music_generation`."""
    body: dict[str, Any] = {"model": model}
    prompt = (prompt or "").strip()
    if is_instrumental(lyrics):
        if model in INSTRUMENTAL_FLAG_MODELS:
            body["is_instrumental"] = True
            prompt = prompt or DEFAULT_INSTRUMENTAL_PROMPT
        else:
            body["lyrics"] = "[Inst]"
    else:
        body["lyrics"] = map_lyrics(lyrics or "")
    if prompt:
        body["prompt"] = prompt
    body["audio_setting"] = dict(AUDIO_SETTING)
    body["output_format"] = output_format
    return body
