"""The genres the arranger knows: each one's band, groove, tempo range and harmony, as data.

Drum patterns are 16 sixteenths per bar, one string per drum and section level (0 quiet, 1 verse,
2 chorus): `X` an accent, `x` a normal hit, `o` a ghost note, `.` a rest. Chord progressions are
four bars of 0-based scale degrees; in minor keys the fifth degree is played as a major chord (the
raised leading tone of harmonic minor), which is what makes a minor key sound like one.
"""

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["major", "minor"]
Role = Literal["verse", "chorus", "bridge"]
Progressions = dict[tuple[Mode, Role], tuple[tuple[int, ...], ...]]

# Patterns shared by several genres.
_BACKBEAT = "....x.......x..."
_EIGHTHS = "x.x.x.x.x.x.x.x."
_SIXTEENTHS = "xxxxxxxxxxxxxxxx"
_FOUR = "x...x...x...x..."

_POP_CHORDS: Progressions = {
    ("major", "verse"): ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4)),
    ("major", "chorus"): ((3, 4, 0, 0), (0, 4, 5, 3), (3, 0, 4, 0)),
    ("major", "bridge"): ((5, 3, 0, 4), (1, 3, 4, 4)),
    ("minor", "verse"): ((0, 5, 3, 4), (0, 0, 5, 4), (0, 3, 0, 4)),
    ("minor", "chorus"): ((5, 6, 0, 0), (3, 4, 0, 0), (0, 5, 3, 4)),
    ("minor", "bridge"): ((3, 4, 5, 4), (5, 3, 4, 4)),
}
_JAZZ_CHORDS: Progressions = {
    ("major", "verse"): ((0, 5, 1, 4), (1, 4, 0, 0), (0, 3, 1, 4)),
    ("major", "chorus"): ((1, 4, 0, 5), (3, 4, 0, 0), (1, 4, 0, 0)),
    ("major", "bridge"): ((3, 3, 1, 4), (5, 1, 4, 4)),
    ("minor", "verse"): ((0, 3, 1, 4), (0, 0, 1, 4), (0, 5, 1, 4)),
    ("minor", "chorus"): ((1, 4, 0, 0), (3, 4, 0, 5), (5, 4, 0, 0)),
    ("minor", "bridge"): ((3, 3, 1, 4), (5, 5, 1, 4)),
}
_SIMPLE_CHORDS: Progressions = {
    ("major", "verse"): ((0, 3, 0, 4), (0, 0, 3, 4), (0, 4, 3, 0)),
    ("major", "chorus"): ((3, 0, 4, 0), (0, 3, 4, 0), (3, 4, 0, 0)),
    ("major", "bridge"): ((5, 3, 4, 4), (3, 3, 0, 4)),
    ("minor", "verse"): ((0, 3, 0, 4), (0, 0, 3, 4), (0, 5, 3, 4)),
    ("minor", "chorus"): ((3, 4, 0, 0), (5, 3, 4, 0), (0, 3, 4, 0)),
    ("minor", "bridge"): ((5, 3, 4, 4), (3, 5, 4, 4)),
}
_DRONE_CHORDS: Progressions = {
    ("major", "verse"): ((0, 0, 3, 0), (0, 3, 0, 3)),
    ("major", "chorus"): ((3, 0, 4, 0), (0, 5, 3, 0)),
    ("major", "bridge"): ((5, 3, 5, 4),),
    ("minor", "verse"): ((0, 0, 5, 0), (0, 3, 0, 3)),
    ("minor", "chorus"): ((5, 3, 0, 0), (0, 5, 3, 0)),
    ("minor", "bridge"): ((3, 5, 3, 4),),
}


@dataclass(frozen=True)
class Genre:
    """How one kind of music is played: the band, its groove, its tempo range and harmony."""

    name: str
    bpm: tuple[int, int]  # the range that mood words move within
    mode: Mode | None  # the usual mode, or None when either is idiomatic
    energy: float  # 0..1, how hard the band plays by default
    kit: str | None  # drum kit, or None for no drums
    drums: dict[str, tuple[str, str, str]]  # drum -> patterns for levels 0, 1, 2
    swing: float  # fraction of a `swing_unit` by which the off-beats are late
    swing_unit: int  # 1: sixteenths swing; 2: eighths swing (jazz)
    bass: str  # instrument
    bass_style: str  # pulse, drive, boom, walk, offbeat, drone, alberti (see patterns.py)
    comp: str  # chord instrument
    comp_style: str  # block, pulse, stab, offbeat, charleston, strum, arpeggio, sustain, chug
    pad: str | None  # a sustained layer in choruses (and everywhere for ambient music)
    lead: str  # the instrument that plays the tune when nothing is sung
    arp: str | None  # an arpeggiator in choruses
    sevenths: bool  # four-note chords
    chords: Progressions
    reverb: float  # send level, 0..1
    words: dict[str, float] = field(default_factory=dict)  # prompt word -> how much it means this


GENRES: tuple[Genre, ...] = (
    Genre(
        name="lofi",
        bpm=(70, 90),
        mode=None,
        energy=0.4,
        kit="lofi",
        drums={
            "kick": ("x.........x.....", "x......x..x.....", "x......x..x..x.."),
            "snare": ("................", _BACKBEAT, _BACKBEAT),
            "hat": ("..x...x...x...x.", _EIGHTHS, "x.xox.x.x.xox.x."),
        },
        swing=0.28,
        swing_unit=1,
        bass="bass_round",
        bass_style="boom",
        comp="epiano",
        comp_style="block",
        pad="pad_warm",
        lead="epiano",
        arp=None,
        sevenths=True,
        chords=_JAZZ_CHORDS,
        reverb=0.35,
        words={
            "lofi": 3,
            "chillhop": 3,
            "study": 1.5,
            "chill": 1,
            "vinyl": 1.5,
            "cozy": 1,
            "rainy": 0.5,
        },
    ),
    Genre(
        name="hiphop",
        bpm=(82, 98),
        mode="minor",
        energy=0.65,
        kit="boombap",
        drums={
            "kick": ("x.........x.....", "x......x..x.....", "x......xx.x...x."),
            "snare": ("................", _BACKBEAT, "....x.......x..o"),
            "hat": (_EIGHTHS, _EIGHTHS, "x.xxx.x.x.xxx.x."),
        },
        swing=0.18,
        swing_unit=1,
        bass="bass_808",
        bass_style="boom",
        comp="epiano",
        comp_style="stab",
        pad="pad_warm",
        lead="bell",
        arp=None,
        sevenths=False,
        chords=_POP_CHORDS,
        reverb=0.2,
        words={
            "hip": 1.5,
            "hop": 1.5,
            "hiphop": 3,
            "rap": 3,
            "trap": 3,
            "bap": 2,
            "beat": 0.5,
            "rnb": 1.5,
        },
    ),
    Genre(
        name="pop",
        bpm=(96, 124),
        mode="major",
        energy=0.65,
        kit="pop",
        drums={
            "kick": ("x.......x.......", "x.......x.x.....", "x.....x.x......."),
            "clap": ("................", _BACKBEAT, _BACKBEAT),
            "hat": ("x...x...x...x...", _EIGHTHS, _SIXTEENTHS),
            "open_hat": ("................", "................", "..............x."),
        },
        swing=0.0,
        swing_unit=1,
        bass="bass_finger",
        bass_style="pulse",
        comp="piano",
        comp_style="pulse",
        pad="pad_bright",
        lead="pluck",
        arp="pluck",
        sevenths=False,
        chords=_POP_CHORDS,
        reverb=0.25,
        words={
            "pop": 3,
            "indie": 1.5,
            "ballad": 1,
            "catchy": 1.5,
            "radio": 1,
            "kpop": 3,
            "dance": 1,
        },
    ),
    Genre(
        name="rock",
        bpm=(108, 150),
        mode=None,
        energy=0.85,
        kit="rock",
        drums={
            "kick": ("x.......x.......", "x.......x.x.....", "x.x.....x.x....."),
            "snare": ("........x.......", _BACKBEAT, _BACKBEAT),
            "hat": (_EIGHTHS, _EIGHTHS, "................"),
            "ride": ("................", "................", _EIGHTHS),
        },
        swing=0.0,
        swing_unit=1,
        bass="bass_pick",
        bass_style="drive",
        comp="guitar_drive",
        comp_style="chug",
        pad=None,
        lead="guitar_lead",
        arp=None,
        sevenths=False,
        chords=_SIMPLE_CHORDS,
        reverb=0.18,
        words={
            "rock": 3,
            "punk": 3,
            "grunge": 3,
            "metal": 2.5,
            "guitar": 1.5,
            "garage": 2,
            "anthem": 1,
            "alternative": 2,
        },
    ),
    Genre(
        name="jazz",
        bpm=(96, 150),
        mode=None,
        energy=0.5,
        kit="jazz",
        drums={
            "ride": ("x...x...x...x...", "x...x.x.x...x.x.", "x...x.x.x...x.x."),
            "hat": ("....x.......x...", "....x.......x...", "....x.......x..."),
            "kick": ("................", "x...............", "x.......o.....o."),
            "snare": ("................", "..........o.....", "......o...o...o."),
        },
        swing=0.33,
        swing_unit=2,
        bass="bass_upright",
        bass_style="walk",
        comp="piano",
        comp_style="charleston",
        pad=None,
        lead="sax",
        arp=None,
        sevenths=True,
        chords=_JAZZ_CHORDS,
        reverb=0.3,
        words={
            "jazz": 3,
            "swing": 2,
            "bebop": 3,
            "lounge": 2,
            "sax": 2,
            "saxophone": 2,
            "bossa": 2,
            "blues": 1.5,
            "noir": 1,
            "trumpet": 1.5,
        },
    ),
    Genre(
        name="ambient",
        bpm=(64, 84),
        mode="major",
        energy=0.2,
        kit=None,
        drums={},
        swing=0.0,
        swing_unit=1,
        bass="bass_sub",
        bass_style="drone",
        comp="pad_warm",
        comp_style="sustain",
        pad="pad_air",
        lead="bell",
        arp="glass",
        sevenths=True,
        chords=_DRONE_CHORDS,
        reverb=0.7,
        words={
            "ambient": 3,
            "drone": 3,
            "meditation": 3,
            "meditative": 3,
            "sleep": 2,
            "atmospheric": 2,
            "soundscape": 3,
            "space": 1,
        },
    ),
    Genre(
        name="electronic",
        bpm=(120, 132),
        mode="minor",
        energy=0.85,
        kit="edm",
        drums={
            "kick": (_FOUR, _FOUR, _FOUR),
            "clap": ("................", _BACKBEAT, _BACKBEAT),
            "hat": ("................", "..x...x...x...x.", "xxX.xxX.xxX.xxX."),
            "open_hat": ("..x...x...x...x.", "................", "..x...x...x...x."),
        },
        swing=0.0,
        swing_unit=1,
        bass="bass_saw",
        bass_style="offbeat",
        comp="supersaw",
        comp_style="offbeat",
        pad="supersaw",
        lead="supersaw",
        arp="pluck",
        sevenths=False,
        chords=_POP_CHORDS,
        reverb=0.3,
        words={
            "edm": 3,
            "electronic": 3,
            "house": 3,
            "techno": 3,
            "trance": 3,
            "club": 2,
            "synthwave": 3,
            "dance": 1.5,
            "disco": 2,
            "rave": 2,
            "electro": 2,
            "dubstep": 2,
            "synth": 1,
        },
    ),
    Genre(
        name="cinematic",
        bpm=(84, 112),
        mode="minor",
        energy=0.6,
        kit="taiko",
        drums={
            "tom": ("x...............", "x.....x.x.......", "x.x...x.x.x.x.x."),
            "snare": ("................", "................", "....x.......x..."),
        },
        swing=0.0,
        swing_unit=1,
        bass="bass_strings",
        bass_style="pulse",
        comp="strings",
        comp_style="sustain",
        pad="brass",
        lead="strings_lead",
        arp="strings_short",
        sevenths=False,
        chords=_POP_CHORDS,
        reverb=0.5,
        words={
            "cinematic": 3,
            "film": 2,
            "movie": 2,
            "soundtrack": 3,
            "orchestral": 3,
            "trailer": 3,
            "score": 2,
            "epic": 1,
            "battle": 1.5,
            "fantasy": 1.5,
            "adventure": 1,
            "heroic": 1,
            "strings": 1,
        },
    ),
    Genre(
        name="folk",
        bpm=(88, 116),
        mode="major",
        energy=0.5,
        kit="folk",
        drums={
            "shaker": ("................", "xoxoxoxoxoxoxoxo", "XoxoXoxoXoxoXoxo"),
            "kick": ("................", "x.......x.......", "x.......x......."),
            "snare": ("................", "................", _BACKBEAT),
        },
        swing=0.0,
        swing_unit=1,
        bass="bass_upright",
        bass_style="boom",
        comp="guitar_acoustic",
        comp_style="strum",
        pad="pad_warm",
        lead="whistle",
        arp=None,
        sevenths=False,
        chords=_SIMPLE_CHORDS,
        reverb=0.25,
        words={
            "folk": 3,
            "acoustic": 2.5,
            "country": 2.5,
            "campfire": 2,
            "banjo": 2,
            "ukulele": 2,
            "bluegrass": 3,
            "americana": 3,
        },
    ),
    Genre(
        name="classical",
        bpm=(72, 104),
        mode=None,
        energy=0.35,
        kit=None,
        drums={},
        swing=0.0,
        swing_unit=1,
        bass="piano",
        bass_style="alberti",
        comp="piano",
        comp_style="arpeggio",
        pad=None,
        lead="piano",
        arp=None,
        sevenths=False,
        chords=_SIMPLE_CHORDS,
        reverb=0.4,
        words={
            "classical": 3,
            "piano": 1.5,
            "sonata": 3,
            "nocturne": 3,
            "etude": 3,
            "waltz": 1,
            "chopin": 3,
            "mozart": 3,
            "baroque": 3,
            "prelude": 2,
        },
    ),
)
GENRE_BY_NAME = {genre.name: genre for genre in GENRES}
