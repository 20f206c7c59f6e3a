"""The arrangement: every note of a piece, from its style, its form and its lyrics.

A small band plays the form bar by bar: drums from the genre's patterns, a bass line and a chord
instrument in the genre's styles, a pad and an arpeggio that join in the choruses, and a lead
that sings each lyric line syllable by syllable (or plays a repeating tune when there are no
words). Choruses are denser and played harder than verses. The piece closes on a dominant bar
and a tonic chord that rings to the end.
"""

import hashlib

import numpy as np

from common.audio.lyrics import parse_lyrics
from common.providers.local.synth.form import Form, Part, build_form
from common.providers.local.synth.harmony import Key, Voicer
from common.providers.local.synth.melody import phrase, syllable_vowels
from common.providers.local.synth.patterns import BASS, COMP, UPSTROKE_STEPS
from common.providers.local.synth.score import SAMPLE_RATE, Note, Score, Span
from common.providers.local.synth.style import Style, read_style
from common.providers.local.synth.voices import release_seconds

_END_RAMP_SECONDS = 0.25  # the very end always closes to silence this fast
_ACCENTS = {"X": 1.0, "x": 0.8, "o": 0.4}
# How far above the sung range (F#3..F4) each instrument plays a tune.
_LEAD_OCTAVE = {"bell": 12, "glass": 24, "pluck": 12, "whistle": 12, "supersaw": 12, "piano": 12}
_DRUM_MACHINES = frozenset({"electronic"})  # played exactly on the grid


def compose(*, prompt: str | None, lyrics: str | None, length_ms: int | None) -> Score:
    """Arrange a piece: its form from the lyrics, its feel from the prompt, its exact length."""
    if length_ms is not None and length_ms <= 0:
        raise ValueError("length_ms must be positive")
    style = read_style(prompt)
    seed = hashlib.sha256(f"{prompt or ''}\x00{lyrics or ''}\x00{length_ms}".encode()).digest()
    form = build_form(style, parse_lyrics(lyrics), length_ms)
    writer = _Writer(style, form, seed)
    spans = writer.write()
    length = (
        round(length_ms * SAMPLE_RATE / 1000) if length_ms else round(form.seconds * SAMPLE_RATE)
    )
    seconds = length / SAMPLE_RATE
    fade = min(max(0.6 * form.bar, 1.5), 0.3 * seconds) if form.fade else _END_RAMP_SECONDS
    notes = tuple(n for n in writer.notes if n.start < seconds)
    final = seconds - form.ring
    return Score(style, form.bpm, spans, notes, length, SAMPLE_RATE, min(fade, seconds), final)


def _rng(seed: bytes, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(seed + repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


class _Writer:
    """Writes the notes of each part, bar by bar, into one list."""

    def __init__(self, style: Style, form: Form, seed: bytes) -> None:
        self.style = style
        self.genre = style.genre
        self.form = form
        self.key = Key(style.tonic, style.mode)
        self.bar = form.bar
        self.seed = seed
        self.rng = _rng(seed, "performance")
        self.chords = self._progression()
        self.notes: list[Note] = []
        # The sung tonic sits between F#3 and F4, so that melodies stay in a vocal range.
        self.tonic_pitch = 60 + style.tonic if style.tonic <= 5 else 48 + style.tonic
        self.comp_voicer = Voicer(low=52, high=74)
        self.pad_voicer = Voicer(low=57, high=79)
        self.human = 0.0 if self.genre.name in _DRUM_MACHINES else 0.004

    def write(self) -> tuple[Span, ...]:
        """Write every part and the ending; return where each part sits."""
        spans = []
        first = 0
        parts = self.form.parts
        for index, part in enumerate(parts):
            following = parts[index + 1] if index + 1 < len(parts) else None
            for offset in range(part.bars):
                bar = first + offset
                rising = following is not None and following.level > part.level
                self._drums(part, bar, offset, fill=rising and offset == part.bars - 1)
                self._bass(part, bar)
                self._comp(part, bar)
                self._layers(part, bar)
            self._melody(part, first)
            start = first * self.bar
            spans.append(
                Span(part.kind, start, part.bars, part.energy, len(part.lines), part.level)
            )
            first += part.bars
        self._ending(first)
        return tuple(spans)

    def _progression(self) -> list[int]:
        """One chord (a scale degree) per bar, closing with a dominant and the tonic."""
        rng = _rng(self.seed, "chords")
        chosen = {
            role: choices[int(rng.integers(len(choices)))]
            for (mode, role), choices in self.genre.chords.items()
            if mode == self.style.mode
        }
        chords = [chosen[p.role][bar % 4] for p in self.form.parts for bar in range(p.bars)]
        if chords:
            chords[-1] = 4
        return [*chords, 0]

    # Timing and dynamics.

    def _time(self, bar: int, step: float) -> float:
        unit = self.genre.swing_unit
        if step == int(step) and int(step) % (2 * unit) == unit:
            step += self.genre.swing * unit
        jitter = self.human * float(self.rng.standard_normal()) if self.human else 0.0
        return max(0.0, (bar + step / 16) * self.bar + jitter)

    def _velocity(self, level: float) -> float:
        # Plain min and max: np.clip on one number costs more than the rest of a note.
        return min(max(level * (1 + 0.06 * self.rng.standard_normal()), 0.05), 1.0)

    def _add(self, voice: str, start: float, length: float, pitch: float, vel: float) -> None:
        self.notes.append(Note(voice, start, max(length, 0.01), pitch, vel))

    # The band.

    def _drums(self, part: Part, bar: int, offset: int, *, fill: bool) -> None:
        if not self.genre.kit:
            return
        level = 0 if part.kind in ("break", "transition") else part.level
        for drum, patterns in self.genre.drums.items():
            pattern = patterns[level]
            if part.kind == "build_up" and drum in ("snare", "clap", "tom"):
                rate = 4 if offset < part.bars // 2 else 2 if offset < part.bars - 1 else 1
                pattern = "".join("x" if s % rate == 0 else "." for s in range(16))
            elif fill and drum in ("snare", "tom"):
                pattern = pattern[:12] + "xxxx"
            elif fill and drum in ("hat", "ride", "shaker"):
                pattern = pattern[:12] + "...."
            for step, mark in enumerate(pattern):
                if mark != ".":
                    vel = _ACCENTS[mark] * part.energy * (0.7 + 0.3 * step / 16 if fill else 1)
                    self._add(drum, self._time(bar, step), 0.1, 0, self._velocity(vel))
        if offset == 0 and part.level == 2:
            self._add("crash", bar * self.bar, 1.0, 0, 0.8 * part.energy)

    def _chord_classes(self, bar: int) -> tuple[int, ...]:
        return self.key.chord_classes(self.chords[bar], sevenths=self.genre.sevenths)

    def _bass(self, part: Part, bar: int) -> None:
        genre = self.genre
        classes = self._chord_classes(bar)
        root = self.key.root(self.chords[bar], low=48 if genre.bass == "piano" else 35)
        sixteenth = self.bar / 16
        if genre.bass_style == "walk":
            hits = self._walk(part, bar, root)
        elif genre.bass_style == "boom":
            hits = self._boom(part, root)
        else:
            hits = tuple(
                (step, length, root + _interval(classes, iv))
                for step, length, iv in BASS[genre.bass_style][part.level]
            )
        legato = 1.0 if genre.bass_style in ("drone", "alberti") else 0.9
        for step, length, pitch in hits:
            vel = self._velocity(0.8 * part.energy)
            start = self._time(bar, step)
            self._add(genre.bass, start, length * sixteenth * legato, pitch, vel)

    def _boom(self, part: Part, root: int) -> tuple[tuple[int, int, int], ...]:
        kicks = self.genre.drums.get("kick", ("x" + "." * 15,) * 3)[part.level]
        steps = [s for s, mark in enumerate(kicks) if mark != "."] or [0]
        # Folk basses alternate root and fifth; the others walk up to the third now and then.
        other = 7 if self.genre.name == "folk" else 3 if part.level == 2 else 0
        ends = [*steps[1:], 16]
        return tuple(
            (s, e - s, root + (other if i % 2 else 0))
            for i, (s, e) in enumerate(zip(steps, ends, strict=True))
        )

    def _walk(self, part: Part, bar: int, root: int) -> tuple[tuple[int, int, int], ...]:
        classes = self._chord_classes(bar)
        if part.level == 0:
            return ((0, 8, root), (8, 8, root + _interval(classes, 7)))
        target = self.key.root(self.chords[min(bar + 1, len(self.chords) - 1)], low=35)
        rng = _rng(self.seed, "walk", bar)
        third = root + _interval(classes, 16) - 12
        fifth = root + _interval(classes, 7)
        # Root, a chord tone, another, then a half step into the next bar's root.
        approach = target + (1 if rng.random() < 0.5 else -1)
        second = third if rng.random() < 0.6 else fifth
        return ((0, 4, root), (4, 4, second), (8, 4, fifth), (12, 4, approach))

    def _comp(self, part: Part, bar: int) -> None:
        genre = self.genre
        hits = COMP[genre.comp_style][part.level]
        if not hits:
            return
        chord = self._voicing(bar)
        sixteenth = self.bar / 16
        short = 0.45 if genre.comp_style == "chug" and part.level == 1 else 0.95
        for step, length in hits:
            vel = self._velocity((0.55 + 0.35 * (step % 4 == 0)) * part.energy)
            start = self._time(bar, step)
            if genre.comp_style == "strum":
                self._strum(start, length * sixteenth, chord, vel, up=step in UPSTROKE_STEPS)
                continue
            for pitch in chord:
                self._add(genre.comp, start, length * sixteenth * short, pitch, vel)

    def _voicing(self, bar: int) -> tuple[int, ...]:
        classes = self._chord_classes(bar)
        if self.genre.comp_style == "chug":
            root = self.key.root(self.chords[bar], low=40)
            # A power chord with the third on top: the mode stays audible under the drive.
            return (root, root + _interval(classes, 7), root + 12, root + _interval(classes, 16))
        chord = self.comp_voicer.voice(classes)
        if self.genre.comp_style == "strum":
            return (self.key.root(self.chords[bar], low=40), *chord)
        return chord

    def _strum(self, start: float, length: float, chord: tuple[int, ...], vel: float, *, up: bool):
        # A pick crosses the strings a few milliseconds apart, downwards or upwards.
        order = chord[::-1] if up else chord
        for index, pitch in enumerate(order):
            delay = 0.008 * index
            self._add(
                self.genre.comp, start + delay, length - delay, pitch, vel * (0.7 if up else 1)
            )

    def _layers(self, part: Part, bar: int) -> None:
        """The pad and the arpeggio: extra layers that make a chorus fuller than a verse."""
        genre = self.genre
        always = genre.name == "ambient"
        if genre.pad and (part.level == 2 or always):
            chord = self.pad_voicer.voice(self._chord_classes(bar))
            for pitch in chord:
                self._add(genre.pad, bar * self.bar, self.bar, pitch, 0.6 * part.energy)
        if genre.arp and (part.level == 2 or always):
            self._arpeggio(part, bar)

    def _arpeggio(self, part: Part, bar: int) -> None:
        classes = self._chord_classes(bar)
        base = 72 if self.genre.arp == "glass" else 60
        tones = sorted(base + (pc - base) % 12 for pc in classes[:3])
        tones += [p + 12 for p in tones]
        sixteenth = self.bar / 16
        rate = 2 if self.genre.arp in ("glass", "strings_short") else 1
        for index, step in enumerate(range(0, 16, rate)):
            pitch = tones[(index * 2 if rate == 2 else index) % len(tones)]
            vel = self._velocity((0.75 if step % 4 == 0 else 0.55) * part.energy)
            self._add(
                self.genre.arp or "", self._time(bar, step), rate * sixteenth * 0.9, pitch, vel
            )

    def _melody(self, part: Part, first_bar: int) -> None:
        if part.lines:
            for index, line in enumerate(part.lines):
                self._phrase(part, first_bar + 2 * index, syllable_vowels(line), line, sung=True)
            return
        if not part.lead or part.bars < 2:
            return
        motif = _rng(self.seed, "motif", part.label or part.kind)
        counts = [int(motif.choice((5, 6, 7, 8))) for _ in range(2)]
        for pair in range(part.bars // 2):
            # Phrases alternate between two motifs, so the tune repeats like a tune does.
            vowels = [""] * (counts[pair % 2] + (3 if part.level == 2 else 0))
            key = f"{part.label}{pair % 2}"
            self._phrase(part, first_bar + 2 * pair, vowels, key, sung=False)

    def _phrase(self, part: Part, first_bar: int, vowels: list[str], key: str, *, sung: bool):
        if first_bar >= len(self.chords) - 1:
            return
        pair = (self.chords[first_bar], self.chords[min(first_bar + 1, len(self.chords) - 2)])
        # Seeded by the words and their chords: a repeated chorus line gets the same tune.
        rng = _rng(self.seed, "phrase", key, pair, part.role)
        centre = 4 if part.level == 2 else 2
        voice = "voice" if sung else self.genre.lead
        octave = 0 if sung else _LEAD_OCTAVE.get(voice, 0)
        sixteenth = self.bar / 16
        velocity = 0.85 * part.energy
        for note in phrase(rng, vowels=vowels, chords=pair, center=centre):
            start = self._time(first_bar, note.step)
            length = note.length * sixteenth * 0.92
            pitch = self.key.degree_pitch(note.degree, self.tonic_pitch) + octave
            self.notes.append(Note(voice, start, length, pitch, velocity, note.vowel))
            if part.level == 2:
                below = self.key.degree_pitch(note.degree - 2, self.tonic_pitch) + octave
                harmony = "harmony" if sung else voice
                self.notes.append(Note(harmony, start, length, below, 0.5 * velocity, note.vowel))

    def _ending(self, bar: int) -> None:
        """The closing tonic chord on the downbeat of `bar`, ringing out by the very end."""
        start = bar * self.bar
        ring = self.form.ring - _END_RAMP_SECONDS
        self.notes = [n for n in self.notes if n.start < start - 1e-6 or n.voice in ("voice",)]
        genre = self.genre
        chord = self._voicing(bar)
        for voice, pitches, vel in (
            (genre.comp, chord, 0.8),
            (genre.pad, self.pad_voicer.voice(self._chord_classes(bar)), 0.5),
            (genre.bass, (self.key.root(0, low=48 if genre.bass == "piano" else 35),), 0.9),
        ):
            if voice:
                held = max(0.05, ring - release_seconds(voice))
                for pitch in pitches:
                    self._add(voice, start, held, pitch, vel)
        if genre.kit:
            self._add("kick", start, 0.1, 0, 0.9)
            self._add("crash", start, 1.0, 0, 0.8)


def _interval(classes: tuple[int, ...], interval: int) -> int:
    """Semitones above the chord root for 0 (root), 3 (third), 7 (fifth), 12, 16 (tenth)."""
    if interval == 3:
        return (classes[1] - classes[0]) % 12
    if interval == 7:
        return (classes[2] - classes[0]) % 12
    if interval == 16:
        return 12 + (classes[1] - classes[0]) % 12
    return interval
