"""The output formats of the public contract (`response_format`)."""

from dataclasses import dataclass
from typing import Literal

AudioKind = Literal["mp3", "pcm", "ulaw"]


@dataclass(frozen=True)
class AudioFormat:
    """One `response_format`: how the body is encoded and how it is labelled."""

    name: str
    kind: AudioKind
    sample_rate: int
    bitrate: int | None  # bits per second; None for raw sample formats
    channels: int
    content_type: str
    extension: str


def _mp3(sample_rate: int, kbps: int, channels: int) -> AudioFormat:
    return AudioFormat(
        name=f"mp3_{sample_rate}_{kbps}",
        kind="mp3",
        sample_rate=sample_rate,
        bitrate=kbps * 1000,
        channels=channels,
        content_type="audio/mpeg",
        extension="mp3",
    )


def _pcm(sample_rate: int) -> AudioFormat:
    return AudioFormat(
        name=f"pcm_{sample_rate}",
        kind="pcm",
        sample_rate=sample_rate,
        bitrate=None,
        channels=1,
        content_type="audio/pcm",
        extension="pcm",
    )


_ALL = (
    _mp3(44100, 128, 2),
    _mp3(44100, 192, 2),
    # 32 kbit/s leaves too few bits for two channels, so this one is mono.
    _mp3(22050, 32, 1),
    _pcm(16000),
    _pcm(22050),
    _pcm(24000),
    _pcm(44100),
    AudioFormat(
        name="ulaw_8000",
        kind="ulaw",
        sample_rate=8000,
        bitrate=None,
        channels=1,
        content_type="audio/basic",
        extension="ulaw",
    ),
)

FORMATS: dict[str, AudioFormat] = {fmt.name: fmt for fmt in _ALL}
DEFAULT_FORMAT = "mp3_44100_128"


def stored_format(response_format: str, *, saved: bool) -> AudioFormat:
    """The format a delivery is stored in: the one requested, except that a saved track is
    always a browser-playable MP3 (the requested MP3 variant, else the default)."""
    requested = get_format(response_format)
    if saved and requested.kind != "mp3":
        return get_format(DEFAULT_FORMAT)
    return requested


def get_format(name: str) -> AudioFormat:
    """Return the format called `name`; KeyError when the contract has no such format."""
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown response_format: {name!r}") from None
