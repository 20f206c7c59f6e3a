"""The score: what the arrangement decides and the renderer plays."""

from dataclasses import dataclass

from common.providers.local.synth.style import Style

SAMPLE_RATE = 44100


@dataclass(frozen=True)
class Note:
    """One event: `start` and `duration` in seconds, `pitch` as a MIDI note, `velocity` 0..1.

    `voice` names a pitched instrument (see `voices.INSTRUMENTS`) or a drum of the piece's kit.
    """

    voice: str
    start: float
    duration: float
    pitch: float
    velocity: float
    vowel: str = ""  # for sung notes, the syllable's vowel colours the voice's timbre


@dataclass(frozen=True)
class Span:
    """Where one section of the form sits in time."""

    kind: str
    start: float
    bars: int
    energy: float
    sung_lines: int
    level: int  # 0 sparse (intro, outro, breaks), 1 verse-like, 2 chorus-like


@dataclass(frozen=True)
class Score:
    """A whole piece: its style, its form, its notes and its exact length."""

    style: Style
    bpm: float  # may differ slightly from style.bpm when bars are fitted to a requested length
    sections: tuple[Span, ...]
    notes: tuple[Note, ...]
    length_samples: int
    sample_rate: int
    fade_out: float  # seconds of fade at the very end; 0 when the piece ends on its own
    final_chord: float  # seconds: where the closing tonic chord starts

    @property
    def bar_seconds(self) -> float:
        """Length of one 4/4 bar in seconds."""
        return 240.0 / self.bpm
