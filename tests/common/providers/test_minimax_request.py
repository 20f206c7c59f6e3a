import pytest

from common.providers.minimax.request import build_body, map_lyrics


def test_tags_are_mapped_case_insensitively_on_their_own_lines() -> None:
    lyrics = "[VERSE]\nthe [chorus] stays sung\n[ Chorus ]\nla la\n[bridge]\n[Intro]\n[outro]"
    assert map_lyrics(lyrics).splitlines() == [
        "[Verse]",
        "the [chorus] stays sung",
        "[Chorus]",
        "la la",
        "[Bridge]",
        "[Intro]",
        "[Outro]",
    ]


def test_instrumental_inside_lyrics_becomes_inst() -> None:
    assert map_lyrics("[verse]\nhello\n[Instrumental]\n[chorus]\nbye") == (
        "[Verse]\nhello\n[Inst]\n[Chorus]\nbye"
    )


@pytest.mark.parametrize("lyrics", [None, "", "  \n", "[Instrumental]", "[instrumental]\n"])
def test_instrumental_on_music_2_6_uses_the_flag(lyrics: str | None) -> None:
    body = build_body(model="music-2.6", prompt="warm jazz", lyrics=lyrics, output_format="hex")
    assert body == {
        "model": "music-2.6",
        "is_instrumental": True,
        "prompt": "warm jazz",
        "audio_setting": {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"},
        "output_format": "hex",
    }


def test_instrumental_without_prompt_gets_a_default_prompt() -> None:
    body = build_body(model="music-2.6", prompt=None, lyrics="[Instrumental]", output_format="url")
    assert body["prompt"] and body["is_instrumental"] is True and "lyrics" not in body


def test_instrumental_on_music_2_0_sends_inst_lyrics() -> None:
    body = build_body(
        model="music-2.0", prompt="calm", lyrics="[Instrumental]", output_format="hex"
    )
    assert body["lyrics"] == "[Inst]" and "is_instrumental" not in body


def test_song_without_prompt_omits_prompt() -> None:
    body = build_body(model="music-2.0", prompt="  ", lyrics="[verse]\nhi", output_format="hex")
    assert body == {
        "model": "music-2.0",
        "lyrics": "[Verse]\nhi",
        "audio_setting": {"sample_rate": 44100, "bitrate": 128000, "format": "mp3"},
        "output_format": "hex",
    }
