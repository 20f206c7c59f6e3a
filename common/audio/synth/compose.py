"""The arrangement: the form of a piece and every note in it, from prompt, lyrics and length."""

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np

from common.audio.lyrics import Section, parse_lyrics
from common.audio.synth.melody import phrase, syllable_vowels
from common.audio.synth.score import SAMPLE_RATE, Note, Score, Span
from common.audio.synth.style import Style, read_style

MAX_SECONDS = 600  # lyric-derived pieces stop growing here; the rest of the lyrics is dropped
_INSTRUMENTAL_BODY_SECONDS = 40  # the A-B-A body of a piece without words
_TAIL_SECONDS = 0.6  # the last chord rings on past its bar
_TEMPO_STRETCH = 0.05  # how far an implied tempo may bend to fit a requested length
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Four bars of chords as 0-based scale degrees, avoiding the diminished triad of each mode.
_PROGRESSIONS = {
    ("major", "verse"): ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4)),
    ("major", "chorus"): ((3, 0, 4, 5), (5, 3, 0, 4), (0, 4, 5, 3)),
    ("major", "bridge"): ((5, 3, 1, 4), (1, 3, 5, 4)),
    ("minor", "verse"): ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6)),
    ("minor", "chorus"): ((5, 2, 6, 0), (3, 5, 6, 0), (5, 6, 0, 0)),
    ("minor", "bridge"): ((3, 4, 5, 6), (5, 6, 3, 4)),
}


@dataclass(frozen=True)
class _Part:
    """A section of the form before it is placed in time."""

    kind: str
    role: str  # which progression it uses: verse, chorus or bridge
    energy: float
    bars: int
    lead: bool  # whether an instrumental melody plays when there are no words
    lines: tuple[str, ...] = ()
    label: str = ""  # parts with one label share their instrumental melodies


_KINDS: dict[str, _Part] = {
    part.kind: part
    for part in (
        _Part("intro", "verse", 0.35, 2, False),
        _Part("verse", "verse", 0.55, 8, True),
        _Part("pre_chorus", "bridge", 0.65, 4, True),
        _Part("chorus", "chorus", 0.85, 8, True),
        _Part("post_chorus", "chorus", 0.8, 4, True),
        _Part("bridge", "bridge", 0.6, 4, True),
        _Part("instrumental", "verse", 0.65, 8, True),
        _Part("interlude", "bridge", 0.45, 4, True),
        _Part("solo", "chorus", 0.8, 8, True),
        _Part("break", "verse", 0.3, 2, False),
        _Part("build_up", "bridge", 0.65, 4, False),
        _Part("drop", "chorus", 1.0, 8, True),
        _Part("transition", "bridge", 0.4, 2, False),
        _Part("outro", "verse", 0.4, 2, False),
    )
}
# Instrumental material, cycled to fill a requested length: A, B, A, B, C (a quieter bridge), B.
_FILL = (
    replace(_KINDS["instrumental"], label="A"),
    replace(_KINDS["instrumental"], role="chorus", energy=0.85, label="B"),
    replace(_KINDS["interlude"], label="C"),
)
_FILL_ORDER = (0, 1, 0, 1, 2, 1)


def compose(*, prompt: str | None, lyrics: str | None, length_ms: int | None) -> Score:
    """Arrange a piece: its form from the lyrics, its feel from the prompt, its exact length."""
    if length_ms is not None and length_ms <= 0:
        raise ValueError("length_ms must be positive")
    style = read_style(prompt)
    seed = hashlib.sha256(f"{prompt or ''}\x00{lyrics or ''}\x00{length_ms}".encode()).digest()
    bpm, parts, seconds = _form(style, parse_lyrics(lyrics), length_ms)
    # The mood moves every section's energy together, so a sad chorus is still above its verse.
    shift = (style.energy - 0.6) / 2
    parts = [replace(p, energy=min(1.0, max(0.1, p.energy + shift))) for p in parts]
    bar = 240.0 / bpm
    rng = _rng(seed, "arrangement")
    chords = _chords(parts, style, rng)
    writer = _Writer(style=style, bar=bar, rng=rng, seed=seed, chords=chords)
    spans: list[Span] = []
    first_bar = 0
    for index, part in enumerate(parts):
        following = parts[index + 1] if index + 1 < len(parts) else None
        writer.part(part, first_bar, following)
        spans.append(Span(part.kind, first_bar * bar, part.bars, part.energy, len(part.lines)))
        first_bar += part.bars
    writer.ending(first_bar - 1, hold=seconds - (first_bar - 1) * bar)
    length = round(length_ms * SAMPLE_RATE / 1000) if length_ms else round(seconds * SAMPLE_RATE)
    fade = min(max(0.6 * bar, 1.5), 0.3 * length / SAMPLE_RATE)
    notes = tuple(n for n in writer.notes if n.start * SAMPLE_RATE < length)
    return Score(style, bpm, tuple(spans), notes, length, SAMPLE_RATE, fade)


def _rng(seed: bytes, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(seed + repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _form(
    style: Style, sections: list[Section], length_ms: int | None
) -> tuple[float, list[_Part], float]:
    """Return the tempo, the parts and the length in seconds."""
    bpm = style.bpm
    bar = 240.0 / bpm
    words = any(s.lines for s in sections)
    if not words and all(s.kind == "instrumental" for s in sections):
        repeats = max(1, round(_INSTRUMENTAL_BODY_SECONDS / (12 * bar)))
        a, b = (replace(p, bars=4 * repeats) for p in _FILL[:2])
        parts = [_KINDS["intro"], a, b, a, _KINDS["outro"]]
    else:
        parts = [
            replace(_KINDS[s.kind], bars=2 * len(s.lines) or _KINDS[s.kind].bars, lines=s.lines)
            for s in sections
        ]
        if parts[0].kind != "intro":
            parts.insert(0, _KINDS["intro"])
        if parts[-1].kind != "outro":
            parts.append(_KINDS["outro"])
    if length_ms is None:
        if sum(p.bars for p in parts) * bar > MAX_SECONDS:
            parts = _fit(parts, math.floor(MAX_SECONDS / bar))
        return bpm, parts, sum(p.bars for p in parts) * bar + _TAIL_SECONDS
    seconds = length_ms / 1000
    total = max(1, round(seconds / bar))
    fitted = 240.0 * total / seconds
    # A few per cent of tempo goes unnoticed and lets whole bars end exactly on the requested
    # length; otherwise the final chord is held for whatever is left after the last whole bar.
    if not style.bpm_explicit and abs(fitted / bpm - 1) <= _TEMPO_STRETCH:
        bpm = fitted
    else:
        total = max(1, math.floor(seconds / bar))
    return bpm, _fit(parts, total), seconds


def _fit(parts: list[_Part], total: int) -> list[_Part]:
    """Cut or extend the form to `total` bars; the intro and outro stay when there is room."""
    head = parts[:1] if parts[0].kind == "intro" else []
    tail = parts[-1:] if parts[-1].kind == "outro" and len(parts) > 1 else []
    body = parts[len(head) : len(parts) - len(tail)]
    room = total - sum(p.bars for p in head + tail)
    if room < 4:
        head, tail, room = [], [], total
        body = body or list(_FILL)
    fitted: list[_Part] = []
    for part in body:
        if room <= 0:
            break
        bars = min(part.bars, room)
        fitted.append(replace(part, bars=bars, lines=part.lines[: bars // 2]))
        room -= bars
    index = 0
    while room > 0:
        bars = min(8, room)
        fitted.append(replace(_FILL[_FILL_ORDER[index % len(_FILL_ORDER)]], bars=bars))
        room -= bars
        index += 1
    return head + fitted + tail


def _chords(parts: list[_Part], style: Style, rng: np.random.Generator) -> list[int]:
    """One chord (a scale degree) per bar, with a cadence into the final tonic."""
    progressions = {
        role: options[int(rng.integers(len(options)))]
        for (mode, role), options in _PROGRESSIONS.items()
        if mode == style.mode
    }
    chords = [progressions[p.role][bar % 4] for p in parts for bar in range(p.bars)]
    if len(chords) >= 3:
        chords[-2] = 4 if style.mode == "major" else 6
    chords[-1] = 0
    return chords


class _Writer:
    """Writes the notes of each part, bar by bar, into one list."""

    def __init__(
        self, *, style: Style, bar: float, rng: np.random.Generator, seed: bytes, chords: list[int]
    ) -> None:
        self.style = style
        self.bar = bar
        self.rng = rng
        self.seed = seed
        self.chords = chords
        self.scale = _SCALES[style.mode]
        # The lead's tonic sits between F#3 and F4 so that melodies stay in a vocal range.
        self.tonic = 60 + style.tonic if style.tonic <= 5 else 48 + style.tonic
        self.notes: list[Note] = []
        self._voicing: tuple[int, ...] = (60, 64, 67)

    def part(self, part: _Part, first_bar: int, following: _Part | None) -> None:
        """Write drums, bass, chords and melody for `part` starting at bar `first_bar`."""
        for offset in range(part.bars):
            index = first_bar + offset
            last_of_part = offset == part.bars - 1
            fill = last_of_part and following is not None and following.energy > part.energy
            self._drums(part, index, offset, fill)
            self._bass(part, index)
            self._harmony(part, index)
        if part.lines:
            for line_index, line in enumerate(part.lines):
                self._phrase(part, first_bar + 2 * line_index, syllable_vowels(line), line)
        elif part.lead and part.bars >= 2:
            motif = _rng(self.seed, "motif", part.label or part.kind)
            counts = [int(motif.choice((5, 6, 7, 8, 10))) for _ in range(2)]
            for pair in range(part.bars // 2):
                # Phrases alternate between two motifs, so the tune repeats like a tune does.
                vowels = [""] * (counts[pair % 2] + (4 if part.role == "chorus" else 0))
                self._phrase(part, first_bar + 2 * pair, vowels, f"{part.label}{pair % 2}")

    def ending(self, index: int, *, hold: float) -> None:
        """Replace the final bar with one tonic chord held for `hold` seconds."""
        start = index * self.bar
        self.notes = [n for n in self.notes if n.start < start - 1e-6 or n.voice == "lead"]
        chord = self._voice_chord(0)
        length = hold + _TAIL_SECONDS
        self._add("keys", start, length, chord, 0.7)
        self._add("pad", start, length, chord, 0.5)
        self._add("bass", start, length, (self._bass_root(0),), 0.8)
        if self.style.drums:
            self._add("kick", start, 0.3, (0,), self.style.drums)
            self._add("crash", start, 2.0, (0,), 0.8 * self.style.drums)

    def _add(
        self, voice: str, start: float, length: float, pitches: tuple[float, ...], vel: float
    ) -> None:
        for pitch in pitches:
            self.notes.append(Note(voice, start, length, pitch, vel))

    def _step(self, index: int, step: float) -> float:
        swing = self.style.swing if int(step) % 2 else 0.0
        return (index + (step + swing) / 16) * self.bar

    def _jitter(self, velocity: float) -> float:
        return float(np.clip(velocity * (1 + 0.08 * self.rng.standard_normal()), 0.05, 1.0))

    def _drums(self, part: _Part, index: int, offset: int, fill: bool) -> None:
        level = self.style.drums
        if not level:
            return
        e = part.energy
        kicks, snares, hats = _drum_pattern(part, e, offset, self.style.mood == "happy")
        if fill:
            snares = sorted({*snares, 12, 13, 14, 15})
            hats = [h for h in hats if h < 12]
        for step in kicks:
            self._add("kick", self._step(index, step), 0.3, (0,), self._jitter(level * 0.95))
        for step in snares:
            vel = level * (0.55 + 0.4 * e) * (0.75 + 0.25 * step / 16 if fill else 1)
            self._add("snare", self._step(index, step), 0.25, (0,), self._jitter(vel))
        for step in hats:
            accent = 1.0 if step % 4 == 0 else 0.7 if step % 2 == 0 else 0.5
            # A couple of milliseconds either way: a drummer is never exactly on the grid.
            start = self._step(index, step) + 0.002 * float(self.rng.standard_normal())
            self._add("hat", max(start, 0.0), 0.08, (0,), self._jitter(level * 0.5 * accent))
        if e >= 0.75 and offset % 2 == 1:
            self._add("open_hat", self._step(index, 14), 0.3, (0,), self._jitter(level * 0.4))
        if offset == 0 and e >= 0.75:
            self._add("crash", index * self.bar, 2.0, (0,), level * 0.6)

    def _bass(self, part: _Part, index: int) -> None:
        root = self._bass_root(self.chords[index])
        fifth = root + 7
        e = part.energy
        sixteenth = self.bar / 16
        pattern: tuple[tuple[int, int, int], ...]  # (step, sixteenths, pitch)
        if e < 0.4:
            pattern = ((0, 16, root),)
        elif e < 0.75:
            pattern = ((0, 6, root), (6, 2, root), (8, 6, fifth), (14, 2, root + 12))
        else:
            offsets = (0, 0, 12, 0, 7, 0, 12, 0)
            pattern = tuple((2 * i, 2, root + o) for i, o in enumerate(offsets))
        for step, length, pitch in pattern:
            start = self._step(index, step)
            self._add("bass", start, length * sixteenth * 0.9, (pitch,), self._jitter(0.75))

    def _harmony(self, part: _Part, index: int) -> None:
        chord = self._voice_chord(self.chords[index])
        e = part.energy
        sixteenth = self.bar / 16
        calm = self.style.mood == "calm" or not self.style.drums
        if calm or e < 0.4:
            hits: tuple[tuple[int, int], ...] = ((0, 16),)
        elif e < 0.75:
            hits = ((0, 7), (8, 5), (14, 2))
        else:
            hits = ((0, 3), (3, 3), (6, 4), (10, 2), (12, 4))
        for step, length in hits:
            vel = self._jitter(0.35 + 0.3 * e)
            self._add("keys", self._step(index, step), length * sixteenth * 0.95, chord, vel)
        if calm or e >= 0.75:
            self._add("pad", index * self.bar, self.bar, chord, 0.3 + 0.4 * e)

    def _phrase(self, part: _Part, first_bar: int, vowels: list[str], key: str) -> None:
        if first_bar >= len(self.chords):
            return
        pair = (self.chords[first_bar], self.chords[min(first_bar + 1, len(self.chords) - 1)])
        # Seeded by the words and their chords: a repeated chorus line gets the same tune.
        rng = _rng(self.seed, "phrase", key, pair, part.role)
        center = 4 if part.role == "chorus" else 2
        sixteenth = self.bar / 16
        velocity = 0.7 + 0.3 * part.energy
        for note in phrase(rng, vowels=vowels, chords=pair, center=center):
            start = self._step(first_bar, note.step)
            length = note.length * sixteenth * 0.92
            pitch = self._degree_pitch(note.degree)
            self.notes.append(Note("lead", start, length, pitch, velocity, note.vowel))
            if part.energy >= 0.75:
                below = self._degree_pitch(note.degree - 2)  # a third below, in the key
                self.notes.append(Note("harmony", start, length, below, 0.5 * velocity))

    def _degree_pitch(self, degree: int) -> int:
        octave, index = divmod(degree, 7)
        return self.tonic + 12 * octave + self.scale[index]

    def _bass_root(self, degree: int) -> int:
        return 36 + (self.style.tonic + self.scale[degree % 7]) % 12

    def _voice_chord(self, degree: int) -> tuple[int, ...]:
        """A close triad between E3 and C5 that moves as little as possible from the last one."""
        pcs = [(self.style.tonic + self.scale[(degree + k) % 7]) % 12 for k in (0, 2, 4)]
        best: tuple[int, ...] = ()
        best_cost = math.inf
        for rotation in range(3):
            order = pcs[rotation:] + pcs[:rotation]
            for low in range(52, 65):
                if low % 12 != order[0]:
                    continue
                voicing = [low]
                for pc in order[1:]:
                    voicing.append(voicing[-1] + (pc - voicing[-1]) % 12)
                cost = sum(abs(a - b) for a, b in zip(voicing, self._voicing, strict=True))
                if voicing[-1] <= 72 and cost < best_cost:
                    best, best_cost = tuple(voicing), cost
        self._voicing = best
        return best


def _drum_pattern(
    part: _Part, energy: float, offset: int, dance: bool
) -> tuple[list[int], list[int], list[int]]:
    """Kick, snare and hat steps (sixteenths) for one bar."""
    if part.kind == "build_up":
        rate = 4 if offset < part.bars // 2 else 2 if offset < part.bars - 1 else 1
        return [0], list(range(0, 16, rate)), list(range(0, 16, 4))
    if part.kind in ("break", "transition"):
        return [], [], list(range(0, 16, 4))
    if energy < 0.4:
        return [0], [], list(range(0, 16, 4))
    if energy < 0.75:
        return [0, 8] + ([10] if offset % 2 else []), [4, 12], list(range(0, 16, 2))
    kicks = [0, 4, 8, 12] if dance else [0, 6, 8, 11]
    return kicks, [4, 12], list(range(16))
