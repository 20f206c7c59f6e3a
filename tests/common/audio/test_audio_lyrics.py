import pytest

from common.audio.lyrics import Section, is_instrumental, parse_lyrics


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("[verse]", "verse"),
        ("[Verse]", "verse"),
        ("[ VERSE ]", "verse"),
        ("[Verse 2]", "verse"),
        ("[chorus]", "chorus"),
        ("[Chorus: everyone]", "chorus"),
        ("[bridge]", "bridge"),
        ("[intro]", "intro"),
        ("[outro]", "outro"),
        ("[Instrumental]", "instrumental"),
        ("[Inst]", "instrumental"),
        ("[Pre Chorus]", "pre_chorus"),
        ("[Pre-Chorus]", "pre_chorus"),
        ("[pre_chorus]", "pre_chorus"),
        ("[Post Chorus]", "post_chorus"),
        ("[Interlude]", "interlude"),
        ("[Hook]", "chorus"),
        ("[Solo]", "solo"),
        ("[Break]", "break"),
        ("[Build Up]", "build_up"),
        ("[Transition]", "transition"),
        ("[Drop]", "drop"),
    ],
)
def test_tag_kinds(tag, kind):
    assert parse_lyrics(f"{tag}\nla la la") == [Section(kind, ("la la la",))]


@pytest.mark.parametrize(
    ("lyrics", "expected"),
    [
        (None, []),
        ("", []),
        ("  \n\n \t\n", []),
        ("first line\nsecond line", [Section("verse", ("first line", "second line"))]),
        (
            "before any tag\n\n[Chorus]\n\n  sung  \n\n[verse]\nnext",
            [
                Section("verse", ("before any tag",)),
                Section("chorus", ("sung",)),
                Section("verse", ("next",)),
            ],
        ),
        (
            "[Intro]\n[Verse]\none\n[Outro]",
            [Section("intro", ()), Section("verse", ("one",)), Section("outro", ())],
        ),
        # An unknown bracketed line is a direction, not a section and not a sung line.
        ("[verse]\none\n[laughs]\ntwo", [Section("verse", ("one", "two"))]),
        # A bracket inside a line is part of the words.
        ("[verse]\nI said [softly] hello", [Section("verse", ("I said [softly] hello",))]),
    ],
)
def test_parse_lyrics(lyrics, expected):
    assert parse_lyrics(lyrics) == expected


@pytest.mark.parametrize(
    ("lyrics", "expected"),
    [
        (None, True),
        ("", True),
        ("   \n ", True),
        ("[Instrumental]", True),
        ("[inst]\n\n[ Instrumental ]", True),
        ("[Instrumental]\nla la la", False),
        ("just words", False),
        ("[Verse]\nwords", False),
        ("[Intro]\n[Outro]", False),
        ("[Solo]", False),
    ],
)
def test_is_instrumental(lyrics, expected):
    assert is_instrumental(lyrics) is expected
