"""Melodies: syllables of a lyric line (or a motif) set to rhythm and scale degrees."""

import re
from dataclasses import dataclass

import numpy as np

_PHRASE_SLOTS = 28  # of the 32 sixteenths in a two-bar phrase; the last four are a breath
MAX_NOTES = _PHRASE_SLOTS  # one syllable per sixteenth at the most; longer lines are thinned
_VOWEL_GROUP = re.compile(r"[aeiouyàáâäãåèéêëìíîïòóôöõùúûüæœø]+")
_WORD = re.compile(r"[^\W\d_]+|\d+")
_VOWEL_OF = str.maketrans(
    {**dict.fromkeys("àáâäãåæ", "a"), **dict.fromkeys("èéêëœ", "e"), **dict.fromkeys("yìíîï", "i")}
    | {**dict.fromkeys("òóôöõø", "o"), **dict.fromkeys("ùúûü", "u")}
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class MelodyNote:
    """A note of a phrase: offsets in sixteenths from the phrase start, pitch as a scale degree."""

    step: int
    length: int
    degree: int
    vowel: str


def syllable_vowels(line: str) -> list[str]:
    """Return one vowel letter (a, e, i, o, u) per sung syllable of `line`."""
    vowels: list[str] = []
    for word in _WORD.findall(line.lower()):
        if _CJK.search(word):
            # One syllable per character; the vowel only varies the colour of the tone.
            vowels.extend("aeiou"[ord(ch) % 5] for ch in word)
            continue
        groups = _VOWEL_GROUP.findall(word)
        if len(groups) > 1 and word.endswith("e") and groups[-1] == "e" and not word.endswith("le"):
            groups = groups[:-1]  # silent final e ("love", "time")
        if groups:
            vowels.extend(g[0].translate(_VOWEL_OF) for g in groups)
        else:
            vowels.append("u")  # a word without vowels ("hmm", "42") is still sung
    return vowels


def phrase(
    rng: np.random.Generator,
    *,
    vowels: list[str],
    chords: tuple[int, int],
    center: int,
) -> list[MelodyNote]:
    """Set `vowels` (one note each) over two bars whose chords are the scale degrees `chords`."""
    if not vowels:
        return []
    if len(vowels) > MAX_NOTES:
        # Squeeze long lines by keeping an even spread of their syllables.
        keep = np.linspace(0, len(vowels) - 1, MAX_NOTES).round().astype(int)
        vowels = [vowels[i] for i in keep]
    lengths = _rhythm(rng, len(vowels))
    steps = np.concatenate(([0], np.cumsum(lengths)[:-1])).tolist()
    notes: list[MelodyNote] = []
    degree = _nearest_chord_tone(center + int(rng.integers(-2, 3)), chords[0])
    for i, (step, length, vowel) in enumerate(zip(steps, lengths, vowels, strict=True)):
        if i:
            degree += int(rng.choice((-2, -1, -1, 0, 1, 1, 2)))
            # Lean back towards the centre so phrases keep to a singable range.
            if degree > center + 4 or degree < center - 3:
                degree += -1 if degree > center else 1
        chord = chords[0] if step < 16 else chords[1]
        if step % 8 == 0 or i == len(vowels) - 1:
            degree = _nearest_chord_tone(degree, chord)  # strong beats and the cadence
        notes.append(MelodyNote(step, length, degree, vowel))
    return notes


def _rhythm(rng: np.random.Generator, count: int) -> list[int]:
    unit = 4 if count <= 6 else 2 if count <= 14 else 1
    lengths = [unit] * count
    spare = _PHRASE_SLOTS - unit * count
    # The last syllable takes half of the spare time: phrases end on a held note.
    lengths[-1] += (spare // 2) // unit * unit
    spare = _PHRASE_SLOTS - sum(lengths)
    while spare >= unit and count > 1:
        lengths[int(rng.integers(0, count - 1))] += unit
        spare -= unit
    return lengths


def _nearest_chord_tone(degree: int, chord: int) -> int:
    for distance in (0, -1, 1, -2, 2, -3, 3):
        if (degree + distance - chord) % 7 in (0, 2, 4):
            return degree + distance
    return degree
