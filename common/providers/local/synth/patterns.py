"""Rhythms of the bass and the chord instrument, per playing style and section level.

Each entry is a tuple per level (0 sparse, 1 verse, 2 chorus) of (step, length) pairs in
sixteenths of a 4/4 bar. Bass entries carry a third item, the chord tone above the root: 0 the
root, 3 the chord's third, 7 its fifth, 12 the octave, 16 the third an octave up.
"""

Hits = tuple[tuple[int, int], ...]
BassHits = tuple[tuple[int, int, int], ...]

_WHOLE: Hits = ((0, 16),)
_QUARTERS: Hits = ((0, 4), (4, 4), (8, 4), (12, 4))
_EIGHTHS: Hits = tuple((2 * i, 2) for i in range(8))
_OFFBEATS: Hits = ((2, 2), (6, 2), (10, 2), (14, 2))

COMP: dict[str, tuple[Hits, Hits, Hits]] = {
    "block": (_WHOLE, ((0, 7), (10, 6)), ((0, 6), (6, 4), (10, 6))),
    "pulse": (_WHOLE, _QUARTERS, _EIGHTHS),
    "stab": (_WHOLE, ((0, 3), (10, 3)), ((0, 3), (6, 2), (10, 3))),
    "offbeat": (_WHOLE, _OFFBEATS, _OFFBEATS),
    "charleston": (((0, 8), (8, 8)), ((0, 3), (6, 4)), ((0, 3), (6, 4), (12, 2))),
    # Down, down, up, up, down, up: the strum every campfire guitarist knows.
    "strum": (_WHOLE, ((0, 4), (4, 2), (6, 4), (10, 2), (12, 2), (14, 2)), _EIGHTHS),
    "arpeggio": ((), (), ((0, 8), (8, 8))),
    "sustain": (_WHOLE, _WHOLE, _WHOLE),
    "chug": (_WHOLE, tuple((2 * i, 1) for i in range(8)), _EIGHTHS),
}
# Strums alternate direction with the eighth-note grid: on the beat down, off the beat up.
UPSTROKE_STEPS = frozenset({2, 6, 10, 14})

BASS: dict[str, tuple[BassHits, BassHits, BassHits]] = {
    "pulse": (
        ((0, 16, 0),),
        ((0, 6, 0), (6, 2, 0), (8, 4, 0), (12, 4, 7)),
        tuple((2 * i, 2, 12 if i == 7 else 0) for i in range(8)),
    ),
    "drive": (
        ((0, 16, 0),),
        tuple((2 * i, 2, 3 if i == 6 else 0) for i in range(8)),
        tuple((2 * i, 2, (0, 0, 0, 0, 0, 3, 7, 3)[i]) for i in range(8)),
    ),
    "offbeat": (
        ((0, 16, 0),),
        ((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)),
        tuple((s, 1, 16 if s % 8 == 7 else 12 if s % 4 == 3 else 0) for s in range(16) if s % 4),
    ),
    "drone": (((0, 16, 0),), ((0, 16, 0),), ((0, 8, 0), (8, 8, 7))),
    # Left hand of a piano: root, fifth, third, fifth in eighths (an Alberti bass).
    "alberti": (
        ((0, 4, 0), (4, 4, 7), (8, 4, 16), (12, 4, 7)),
        tuple((2 * i, 2, (0, 7, 16, 7)[i % 4]) for i in range(8)),
        tuple((2 * i, 2, (0, 7, 16, 7)[i % 4]) for i in range(8)),
    ),
}
