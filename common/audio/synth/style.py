"""Reading tempo, mode, key and feel from the free-text prompt."""

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

Mode = Literal["major", "minor"]

MIN_BPM = 60
MAX_BPM = 180

_NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


@dataclass(frozen=True)
class Mood:
    """What a family of prompt words asks for."""

    name: str
    mode: Mode
    bpm: int
    energy: float  # 0..1: drum density, velocities, how busy the parts are
    drums: float  # drum level; 0 leaves them out
    swing: float  # fraction of a sixteenth by which off-beat sixteenths are late


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_MOODS: tuple[tuple[Mood, frozenset[str]], ...] = (
    (
        Mood("sad", "minor", 76, 0.45, 0.8, 0.0),
        _vocabulary(
            "sad melancholy melancholic dark somber sombre gloomy lonely heartbreak "
            "heartbroken tragic mournful grief blue moody haunting"
        ),
    ),
    (
        Mood("calm", "major", 78, 0.3, 0.55, 0.2),
        _vocabulary(
            "calm ambient lofi chill chillout relaxing relaxed peaceful soft gentle "
            "dreamy meditation meditative sleep sleepy quiet serene mellow"
        ),
    ),
    (
        Mood("happy", "major", 124, 0.85, 1.0, 0.0),
        _vocabulary(
            "happy upbeat energetic joyful cheerful bright dance party fun uplifting "
            "summer euphoric exciting driving fast edm house disco"
        ),
    ),
    (
        Mood("epic", "minor", 132, 0.95, 1.0, 0.0),
        _vocabulary("epic powerful intense aggressive rock metal battle heroic"),
    ),
)
_NEUTRAL = Mood("neutral", "major", 100, 0.6, 0.9, 0.0)
# Ambient music without a beat is still music; the other calm words keep soft drums.
_BEATLESS = frozenset({"ambient", "meditation", "meditative", "sleep"})

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*-?\s*bpm\b|\bbpm\s*[:=]?\s*(\d{2,3}(?:\.\d+)?)\b")
_KEY = re.compile(r"\b([a-g])\s*(#|♯|b|♭|sharp|flat)?\s*(major|minor|maj|min)\b")
_WORDS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Style:
    """The global musical choices for one piece."""

    bpm: float
    bpm_explicit: bool  # the prompt named the tempo, so it is kept exactly
    mode: Mode
    tonic: int  # pitch class of the key, 0 = C
    energy: float
    drums: float
    swing: float
    mood: str


def read_style(prompt: str | None) -> Style:
    """Choose tempo, mode, key and feel from the prompt's words, deterministically."""
    text = (prompt or "").lower().replace("lo-fi", "lofi").replace("lo fi", "lofi")
    words = set(_WORDS.findall(text))
    mood = _pick_mood(words)
    digest = hashlib.sha256(text.encode()).digest()
    # A small, stable nudge so that prompts of one mood do not all share a tempo and key.
    bpm = float(mood.bpm + digest[0] % 9 - 4)
    explicit = _BPM.search(text)
    if explicit:
        bpm = float(explicit.group(1) or explicit.group(2))
    bpm = min(max(bpm, MIN_BPM), MAX_BPM)

    mode = mood.mode
    tonic = digest[1] % 12
    key = _KEY.search(text)
    if key:
        tonic, mode = _parse_key(key)
    elif "minor" in words:
        mode = "minor"
    elif "major" in words:
        mode = "major"
    drums = 0.0 if words & _BEATLESS else mood.drums
    return Style(
        bpm=bpm,
        bpm_explicit=explicit is not None,
        mode=mode,
        tonic=tonic,
        energy=mood.energy,
        drums=drums,
        swing=mood.swing,
        mood=mood.name,
    )


def _pick_mood(words: set[str]) -> Mood:
    best, best_hits = _NEUTRAL, 0
    for mood, vocabulary in _MOODS:
        hits = len(words & vocabulary)
        if hits > best_hits:
            best, best_hits = mood, hits
    return best


def _parse_key(match: re.Match[str]) -> tuple[int, Mode]:
    letter, accidental, quality = match.groups()
    tonic = _NOTE_NAMES[letter]
    if accidental in ("#", "♯", "sharp"):
        tonic += 1
    elif accidental in ("b", "♭", "flat"):
        tonic -= 1
    mode: Mode = "minor" if quality.startswith("min") else "major"
    return tonic % 12, mode
