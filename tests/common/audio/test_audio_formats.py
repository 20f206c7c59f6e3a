import pytest

from common.audio.formats import DEFAULT_FORMAT, FORMATS, AudioFormat, get_format, stored_format

# The public contract's table, written out independently of the module under test.
CONTRACT = [
    ("mp3_44100_128", "mp3", 44100, 128_000, 2, "audio/mpeg", "mp3"),
    ("mp3_44100_192", "mp3", 44100, 192_000, 2, "audio/mpeg", "mp3"),
    ("mp3_22050_32", "mp3", 22050, 32_000, 1, "audio/mpeg", "mp3"),
    ("pcm_16000", "pcm", 16000, None, 1, "audio/pcm", "pcm"),
    ("pcm_22050", "pcm", 22050, None, 1, "audio/pcm", "pcm"),
    ("pcm_24000", "pcm", 24000, None, 1, "audio/pcm", "pcm"),
    ("pcm_44100", "pcm", 44100, None, 1, "audio/pcm", "pcm"),
    ("ulaw_8000", "ulaw", 8000, None, 1, "audio/basic", "ulaw"),
]


@pytest.mark.parametrize(
    ("name", "kind", "rate", "bitrate", "channels", "content_type", "extension"), CONTRACT
)
def test_format_matches_contract(name, kind, rate, bitrate, channels, content_type, extension):
    assert get_format(name) == AudioFormat(
        name=name,
        kind=kind,
        sample_rate=rate,
        bitrate=bitrate,
        channels=channels,
        content_type=content_type,
        extension=extension,
    )


def test_table_has_exactly_the_contract_formats():
    assert sorted(FORMATS) == sorted(row[0] for row in CONTRACT)


def test_default_is_mp3_44100_128():
    assert DEFAULT_FORMAT == "mp3_44100_128"
    assert DEFAULT_FORMAT in FORMATS


@pytest.mark.parametrize("name", ["", "mp3", "MP3_44100_128", "pcm_48000", "wav", "opus_48000_64"])
def test_unknown_format_raises_key_error(name):
    with pytest.raises(KeyError):
        get_format(name)


def test_formats_are_frozen():
    with pytest.raises(AttributeError):
        get_format("pcm_16000").sample_rate = 8000  # type: ignore[misc]


@pytest.mark.parametrize(
    ("requested", "saved", "stored"),
    [
        ("mp3_44100_192", True, "mp3_44100_192"),
        ("mp3_22050_32", True, "mp3_22050_32"),
        ("pcm_16000", True, "mp3_44100_128"),
        ("ulaw_8000", True, "mp3_44100_128"),
        ("pcm_16000", False, "pcm_16000"),
        ("ulaw_8000", False, "ulaw_8000"),
    ],
)
def test_a_saved_track_is_always_stored_as_an_mp3(requested: str, saved: bool, stored: str) -> None:
    assert stored_format(requested, saved=saved).name == stored
