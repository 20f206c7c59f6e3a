"""The form: which sections play, how many bars each, and the tempo that makes them fit.

MiniMax-style requests bring tagged lyrics: each tag is a section and each lyric line is a
two-bar phrase. A requested length (elevenlabs-music) gets a default form (intro, verses,
choruses, a bridge when there is room, outro) whose bars, plus one closing bar on the tonic, end
exactly on the requested length: the tempo bends by up to 5 % to make whole bars fit, unless the
prompt named the tempo, in which case the closing chord rings for whatever is left.
"""

import math
from dataclasses import dataclass, replace

from common.audio.lyrics import Section
from common.providers.local.synth.genres import Role
from common.providers.local.synth.style import Style

MAX_SECONDS = 600  # lyric-derived pieces stop growing here; the rest of the lyrics is dropped
_DEFAULT_SECONDS = 45  # an instrumental piece with no requested length
_TEMPO_STRETCH = 0.05  # how far the tempo may bend to fit a requested length
_TAIL_SECONDS = 1.0  # after the closing bar, for the last chord and the room to die away


@dataclass(frozen=True)
class Part:
    """A section of the form before it is placed in time."""

    kind: str
    role: Role  # which chord progression it uses
    level: int  # 0 sparse, 1 verse-like, 2 chorus-like
    energy: float  # scales every velocity in the section
    bars: int
    lead: bool  # whether an instrumental melody plays when there are no words
    lines: tuple[str, ...] = ()
    label: str = ""  # parts with one label share their instrumental melodies


KINDS: dict[str, Part] = {
    part.kind: part
    for part in (
        Part("intro", "verse", 0, 0.6, 4, False),
        Part("verse", "verse", 1, 0.66, 8, True, label="A"),
        Part("pre_chorus", "bridge", 1, 0.8, 4, True, label="P"),
        Part("chorus", "chorus", 2, 1.0, 8, True, label="B"),
        Part("post_chorus", "chorus", 2, 0.95, 4, True, label="B"),
        Part("bridge", "bridge", 1, 0.75, 8, True, label="C"),
        Part("instrumental", "verse", 1, 0.8, 8, True, label="A"),
        Part("interlude", "bridge", 1, 0.7, 4, True, label="C"),
        Part("solo", "chorus", 2, 0.95, 8, True, label="B"),
        Part("break", "verse", 0, 0.5, 2, False),
        Part("build_up", "bridge", 1, 0.8, 4, False),
        Part("drop", "chorus", 2, 1.0, 8, True, label="B"),
        Part("transition", "bridge", 0, 0.5, 2, False),
        Part("outro", "verse", 0, 0.6, 4, False),
    )
}
_V, _C, _B = KINDS["verse"], KINDS["chorus"], KINDS["bridge"]
# Section orders by the number of 8-bar blocks that fit; always ending on a chorus.
_ORDERS = {1: (_C,), 2: (_V, _C), 3: (_V, _C, _C), 4: (_V, _C, _V, _C), 5: (_V, _C, _V, _C, _C)}
_LONG_ORDER = (_V, _C, _V, _C, _B, _C)


@dataclass(frozen=True)
class Form:
    """The sections, the tempo and the timing of the end."""

    bpm: float
    parts: tuple[Part, ...]
    seconds: float  # the whole piece
    ring: float  # from the downbeat of the closing chord to the end
    fade: bool  # too short for a cadence: the end is faded instead

    @property
    def bar(self) -> float:
        """Seconds per 4/4 bar."""
        return 240.0 / self.bpm


def build_form(style: Style, sections: list[Section], length_ms: int | None) -> Form:
    """Choose sections and tempo; the closing bar follows the last part."""
    bpm = style.bpm
    bar = 240.0 / bpm
    sung = [s for s in sections if s.lines or s.kind != "instrumental"]
    if length_ms is None:
        if sung:
            parts = _lyric_parts(sung)
            if (sum(p.bars for p in parts) + 1) * bar + _TAIL_SECONDS > MAX_SECONDS:
                parts = _fit(parts, math.floor((MAX_SECONDS - _TAIL_SECONDS) / bar) - 1)
        else:
            parts = default_parts(max(4, round(_DEFAULT_SECONDS / bar) - 1))
        body = sum(p.bars for p in parts)
        return Form(bpm, tuple(parts), (body + 1) * bar + _TAIL_SECONDS, bar + _TAIL_SECONDS, False)
    seconds = length_ms / 1000
    total = max(1, round(seconds / bar))  # whole bars, the closing one included
    fitted = 240.0 * total / seconds
    if not style.bpm_explicit and abs(fitted / bpm - 1) <= _TEMPO_STRETCH:
        bpm, bar = fitted, seconds / total
    else:
        total = max(1, math.floor(seconds / bar))
    body = total - 1
    parts = _fit(_lyric_parts(sung), body) if sung else default_parts(body)
    ring = seconds - body * bar
    # A cadence needs at least a dominant bar before the tonic; shorter pieces fade instead.
    return Form(bpm, tuple(parts), seconds, ring, fade=body < 1)


def default_parts(bars: int) -> list[Part]:
    """A form without words of exactly `bars` bars: intro, verses and choruses, outro."""
    if bars <= 0:
        return []
    intro = 4 if bars >= 28 else 2 if bars >= 12 else 0
    outro = 4 if bars >= 40 else 2 if bars >= 16 else 0
    room = bars - intro - outro
    if room < 8:
        body = [replace(_C, bars=room)]
    elif room < 16:
        verse = room // 4 * 2
        body = [replace(_V, bars=verse), replace(_C, bars=room - verse)]
    else:
        blocks = room // 8
        order = _ORDERS.get(blocks) or _LONG_ORDER + (_V, _C) * ((blocks - 6) // 2) + (_C,) * (
            blocks % 2
        )
        body = [replace(part, bars=8) for part in order]
        # Bars that do not make a whole block lengthen the last chorus.
        body[-1] = replace(body[-1], bars=8 + room % 8)
    head = [replace(KINDS["intro"], bars=intro)] if intro else []
    tail = [replace(KINDS["outro"], bars=outro)] if outro else []
    return head + body + tail


def _lyric_parts(sections: list[Section]) -> list[Part]:
    parts = []
    for section in sections:
        kind = KINDS[section.kind]
        # One lyric line is one two-bar phrase; sections are rounded up to whole four-bar
        # progressions, the spare two bars being an instrumental answer.
        bars = 4 * math.ceil(len(section.lines) / 2) if section.lines else kind.bars
        parts.append(replace(kind, bars=bars, lines=section.lines))
    if parts[0].kind != "intro":
        parts.insert(0, KINDS["intro"])
    if parts[-1].kind != "outro":
        parts.append(KINDS["outro"])
    return parts


def _fit(parts: list[Part], total: int) -> list[Part]:
    """Cut or extend the form to `total` bars; the intro and outro stay when there is room."""
    if total <= 0:
        return []
    head = parts[:1] if parts[0].kind == "intro" else []
    tail = parts[-1:] if parts[-1].kind == "outro" and len(parts) > 1 else []
    body = parts[len(head) : len(parts) - len(tail)]
    room = total - sum(p.bars for p in head + tail)
    if room < 4:
        head, tail, room = [], [], total
    fitted: list[Part] = []
    for part in body:
        if room <= 0:
            break
        bars = min(part.bars, room)
        fitted.append(replace(part, bars=bars, lines=part.lines[: bars // 2]))
        room -= bars
    # Lyrics shorter than the request: instrumental verses and choruses fill the rest.
    filler = (KINDS["instrumental"], replace(_C, label="B"))
    index = 0
    while room > 0:
        bars = min(8, room)
        fitted.append(replace(filler[index % 2], bars=bars))
        room -= bars
        index += 1
    return head + fitted + tail
