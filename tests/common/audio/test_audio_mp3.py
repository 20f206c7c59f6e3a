import numpy as np
import pytest

from common.audio import codec
from common.audio.mp3 import ENCODER_DELAY, _crc16, encode_mp3

RATE = 44100


def tone_with_a_click(samples: int, rate: int, channels: int, at: int) -> np.ndarray:
    t = np.arange(samples) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    wave[at] = 0.95  # a landmark to find after decoding
    return np.repeat(wave[:, None], channels, axis=1)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "kbps"),
    [
        ("mp3_44100_128", 44100, 2, 128),
        ("mp3_44100_192", 44100, 2, 192),
        ("mp3_22050_32", 22050, 1, 32),
    ],
)
@pytest.mark.parametrize("samples", [100, 1152, 5000, 44101, 1_323_000])
def test_decoders_get_exactly_the_samples_that_went_in(name, rate, channels, kbps, samples):
    landmark = min(samples - 1, 3000)
    source = tone_with_a_click(samples, rate, channels, landmark)
    data = encode_mp3(source, rate, kbps)
    decoded, decoded_rate = codec.decode(data, name)
    assert decoded_rate == rate
    assert len(decoded) == samples
    assert codec.measure_duration_ms(data, name) == round(samples * 1000 / rate)
    if samples > 4000:
        # And in the right place: the landmark has not moved by a single sample.
        residue = np.abs(decoded[2000:4000, 0] - source[2000:4000, 0])
        assert int(np.argmax(residue)) + 2000 == landmark


def test_the_info_tag_says_what_a_decoder_needs():
    samples = 100_000
    data = encode_mp3(tone_with_a_click(samples, RATE, 2, 10), RATE, 128)
    frame = data[:417]  # 128 kbit/s at 44.1 kHz without the padding slot
    xing = 4 + 32  # header, then MPEG-1 stereo side information
    assert frame[xing : xing + 4] == b"Info"
    frames = int.from_bytes(frame[xing + 8 : xing + 12], "big")
    assert int.from_bytes(frame[xing + 12 : xing + 16], "big") == len(data)
    lame = xing + 120
    assert frame[lame : lame + 4] == b"LAME"
    delay_padding = int.from_bytes(frame[lame + 21 : lame + 24], "big")
    assert delay_padding >> 12 == ENCODER_DELAY
    assert frames * 1152 - ENCODER_DELAY - (delay_padding & 0xFFF) == samples
    assert int.from_bytes(frame[lame + 34 : lame + 36], "big") == _crc16(frame[: lame + 34])


def test_crc16_is_the_arc_variant():
    # The standard check value of CRC-16/ARC.
    assert _crc16(b"123456789") == 0xBB3D


def test_encoding_is_deterministic():
    source = tone_with_a_click(30_000, RATE, 2, 5)
    assert encode_mp3(source, RATE, 128) == encode_mp3(source, RATE, 128)


def test_other_rates_are_resampled_before_encoding():
    source = tone_with_a_click(48_000, 48_000, 2, 10)
    data = codec.encode(source, 48_000, "mp3_22050_32")
    assert codec.measure_duration_ms(data, "mp3_22050_32") == pytest.approx(1000, abs=2)
