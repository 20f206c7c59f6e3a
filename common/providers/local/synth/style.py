"""Reading genre, mood, tempo and key from the free-text prompt.

The genre's words choose the band and the tempo range; mood words choose the mode and where in
that range the tempo sits; an explicit "120 bpm" or "in D minor" wins over both. A prompt with no
known words still gets a genre, a tempo and a key, chosen from a hash of its text.
"""

import hashlib
import re
from dataclasses import dataclass

from common.providers.local.synth.genres import GENRES, Genre, Mode

MIN_BPM = 60
MAX_BPM = 180

_NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Mood:
    """What a family of prompt words asks for."""

    name: str
    mode: Mode | None  # None leaves the genre's usual mode
    tempo: float  # 0..1: where in the genre's tempo range
    energy: float  # 0..1
    words: frozenset[str]


def _mood(name: str, mode: Mode | None, tempo: float, energy: float, words: str) -> Mood:
    return Mood(name, mode, tempo, energy, frozenset(words.split()))


MOODS: tuple[Mood, ...] = (
    _mood(
        "happy",
        "major",
        0.75,
        0.7,
        "happy upbeat joyful cheerful bright sunny fun uplifting summer playful hopeful warm",
    ),
    _mood(
        "sad",
        "minor",
        0.1,
        0.4,
        "sad melancholy melancholic lonely heartbreak heartbroken tragic mournful grief "
        "blue sorrow sorrowful bittersweet tearful",
    ),
    _mood(
        "dark",
        "minor",
        0.4,
        0.6,
        "dark ominous sinister haunting moody gloomy menacing tense eerie mysterious brooding",
    ),
    _mood(
        "calm",
        None,
        0.15,
        0.3,
        "calm relaxing relaxed peaceful gentle soft mellow serene quiet soothing lazy slow tender",
    ),
    _mood(
        "energetic",
        None,
        0.95,
        0.95,
        "energetic driving fast intense aggressive powerful hype party exciting euphoric "
        "pumping loud wild",
    ),
    _mood("epic", "minor", 0.6, 0.9, "epic heroic triumphant majestic grand battle victorious"),
    _mood(
        "dreamy",
        "major",
        0.3,
        0.35,
        "dreamy ethereal floating hazy nostalgic romantic wistful lush",
    ),
)
NEUTRAL = _mood("neutral", None, 0.5, 0.6, "")

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*-?\s*bpm\b|\bbpm\s*[:=]?\s*(\d{2,3}(?:\.\d+)?)\b")
_KEY = re.compile(r"\b([a-g])\s*(#|♯|b|♭|sharp|flat)?\s*(major|minor|maj|min)\b")
_WORDS = re.compile(r"[a-z]+")
_SPELLINGS = (
    (re.compile(r"\blo[\s-]?fi\b"), "lofi"),
    (re.compile(r"\bhip[\s-]?hop\b"), "hiphop"),
)


@dataclass(frozen=True)
class Style:
    """The global musical choices for one piece."""

    genre: Genre
    mood: str
    bpm: float
    bpm_explicit: bool  # the prompt named the tempo, so it is kept exactly
    mode: Mode
    tonic: int  # pitch class of the key, 0 = C
    energy: float  # 0..1

    @property
    def key_name(self) -> str:
        """The key as musicians write it, e.g. "D minor"."""
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"


def read_style(prompt: str | None) -> Style:
    """Choose genre, mood, tempo, mode and key from the prompt's words, deterministically."""
    text = _normalise(prompt or "")
    words = set(_WORDS.findall(text))
    digest = hashlib.sha256(text.encode()).digest()
    genre = _pick_genre(words, digest)
    mood = _pick_mood(words)

    low, high = genre.bpm
    # A small, stable nudge so that prompts of one genre and mood do not all share a tempo.
    position = min(max(mood.tempo + (digest[0] / 255 - 0.5) * 0.2, 0.0), 1.0)
    bpm = float(round(low + position * (high - low)))
    explicit = _BPM.search(text)
    if explicit:
        bpm = float(explicit.group(1) or explicit.group(2))
    bpm = min(max(bpm, MIN_BPM), MAX_BPM)

    mode: Mode = mood.mode or genre.mode or ("minor" if digest[2] % 2 else "major")
    tonic = digest[1] % 12
    key = _KEY.search(text)
    if key:
        tonic, mode = _parse_key(key)
    elif "minor" in words:
        mode = "minor"
    elif "major" in words:
        mode = "major"
    return Style(
        genre=genre,
        mood=mood.name,
        bpm=bpm,
        bpm_explicit=explicit is not None,
        mode=mode,
        tonic=tonic,
        energy=round(0.5 * genre.energy + 0.5 * mood.energy, 3),
    )


def _normalise(prompt: str) -> str:
    text = prompt.lower().replace("r&b", "rnb")
    for pattern, word in _SPELLINGS:
        text = pattern.sub(word, text)
    return text


def _pick_genre(words: set[str], digest: bytes) -> Genre:
    scores = [sum(weight for word, weight in g.words.items() if word in words) for g in GENRES]
    best = max(scores)
    if best == 0:
        # Nothing names a genre: still a coherent band, the same one for the same text.
        return GENRES[digest[3] % len(GENRES)]
    return GENRES[scores.index(best)]


def _pick_mood(words: set[str]) -> Mood:
    best, best_hits = NEUTRAL, 0
    for mood in MOODS:
        hits = len(words & mood.words)
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
