"""Scales, chords and voicings: where the notes of each chord sit on the keyboard."""

import math
from dataclasses import dataclass

from common.providers.local.synth.genres import Mode

SCALES: dict[Mode, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}


@dataclass(frozen=True)
class Key:
    """A tonic (pitch class) and a mode."""

    tonic: int
    mode: Mode

    def chord_classes(self, degree: int, *, sevenths: bool) -> tuple[int, ...]:
        """Pitch classes of the chord on `degree` (root first), a triad or a seventh chord."""
        scale = SCALES[self.mode]
        classes = []
        for step in (0, 2, 4, 6) if sevenths else (0, 2, 4):
            interval = scale[(degree + step) % 7]
            if self.mode == "minor" and degree % 7 == 4 and interval == 10:
                interval = 11  # the dominant's third is the raised leading tone
            classes.append((self.tonic + interval) % 12)
        return tuple(classes)

    def degree_pitch(self, degree: int, tonic_pitch: int) -> int:
        """MIDI pitch of a scale degree counted from the MIDI note `tonic_pitch`."""
        octave, index = divmod(degree, 7)
        return tonic_pitch + 12 * octave + SCALES[self.mode][index]

    def root(self, degree: int, low: int) -> int:
        """The chord root on `degree` as the lowest such pitch at or above `low`."""
        pc = (self.tonic + SCALES[self.mode][degree % 7]) % 12
        return low + (pc - low) % 12


class Voicer:
    """Close voicings that move as little as possible from one chord to the next."""

    def __init__(self, *, low: int, high: int) -> None:
        self.low = low
        self.high = high
        self._last: tuple[int, ...] = ()

    def voice(self, classes: tuple[int, ...]) -> tuple[int, ...]:
        """The inversion of `classes` nearest to the previous chord, within the range."""
        best: tuple[int, ...] = ()
        best_cost = math.inf
        for rotation in range(len(classes)):
            order = classes[rotation:] + classes[:rotation]
            for bottom in range(self.low, self.low + 12):
                if bottom % 12 != order[0]:
                    continue
                voicing = [bottom]
                for pc in order[1:]:
                    voicing.append(voicing[-1] + (pc - voicing[-1]) % 12)
                if voicing[-1] > self.high:
                    continue
                centre = (self.low + self.high) / 2
                cost: float
                if self._last:
                    cost = sum(abs(a - b) for a, b in zip(voicing, self._last, strict=False))
                else:
                    cost = abs(sum(voicing) / len(voicing) - centre)
                if cost < best_cost:
                    best, best_cost = tuple(voicing), cost
        if not best:
            best = tuple(self.low + (pc - self.low) % 12 for pc in classes)
        self._last = best
        return best
