"""Lyrics with section tags (`[verse]`, `[chorus]`, MiniMax's `[Pre Chorus]` ...) as sections."""

import re
from dataclasses import dataclass

# Tag spelling (lower case, single spaces, no numbering) -> section kind.
_TAGS: dict[str, str] = {
    "intro": "intro",
    "verse": "verse",
    "pre chorus": "pre_chorus",
    "prechorus": "pre_chorus",
    "chorus": "chorus",
    # A hook is the chorus's catch line; it is arranged like a chorus.
    "hook": "chorus",
    "post chorus": "post_chorus",
    "postchorus": "post_chorus",
    "bridge": "bridge",
    "instrumental": "instrumental",
    "inst": "instrumental",
    "interlude": "interlude",
    "solo": "solo",
    "break": "break",
    "build up": "build_up",
    "buildup": "build_up",
    "drop": "drop",
    "transition": "transition",
    "outro": "outro",
}

_TAG_LINE = re.compile(r"^\s*\[([^\[\]]*)\]\s*$")
# "[Verse 2]", "[Chorus: Both]", "[Pre-Chorus]" all name the same kind of section.
_NUMBERING = re.compile(r"[\s:]+\d+\s*$|:.*$")
_SEPARATORS = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class Section:
    """A run of lyric lines under one tag; `lines` is empty for a purely instrumental tag."""

    kind: str
    lines: tuple[str, ...]


def parse_lyrics(lyrics: str | None) -> list[Section]:
    """Split tagged lyrics into sections; untagged leading lines form a verse."""
    sections: list[Section] = []
    kind: str | None = None
    lines: list[str] = []
    for raw in (lyrics or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        tag = _TAG_LINE.match(line)
        if tag is None:
            if kind is None:
                kind = "verse"
            lines.append(line)
            continue
        new_kind = _tag_kind(tag.group(1))
        if new_kind is None:
            # An unknown bracketed line is a stage direction ("[laughs]"): neither sung nor
            # the start of a section.
            continue
        if kind is not None:
            sections.append(Section(kind, tuple(lines)))
        kind, lines = new_kind, []
    if kind is not None:
        sections.append(Section(kind, tuple(lines)))
    return sections


def is_instrumental(lyrics: str | None) -> bool:
    """True when there is nothing to sing: blank lyrics or only [Instrumental]/[Inst] tags."""
    return all(s.kind == "instrumental" and not s.lines for s in parse_lyrics(lyrics))


def _tag_kind(tag: str) -> str | None:
    name = _NUMBERING.sub("", tag.strip().lower())
    name = _SEPARATORS.sub(" ", name).strip()
    return _TAGS.get(name)
