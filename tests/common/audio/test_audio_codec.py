import numpy as np
import pytest

from common.audio import codec
from common.audio.formats import FORMATS, get_format

RATE = 44100
TONE_HZ = 440.0  # below the 4 kHz Nyquist of ulaw_8000, so every format keeps it
TOLERANCE_MS = 30


def tone(seconds: float, *, channels: int = 2, level: float = 0.5) -> np.ndarray:
    """A 440 Hz tone with 10 ms ramps, shape (n, channels), float32."""
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    ramp = np.clip(np.minimum(t, t[-1] - t) / 0.01, 0, 1)
    wave = (level * ramp * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.repeat(wave[:, np.newaxis], channels, axis=1)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    mono = samples.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("seconds", [0.5, 2.7183])
def test_round_trip_keeps_duration_rate_channels_and_pitch(name, seconds):
    fmt = get_format(name)
    source = tone(seconds)
    data = codec.encode(source, RATE, name)
    decoded, rate = codec.decode(data, name)

    assert rate == fmt.sample_rate
    assert decoded.dtype == np.float32
    assert decoded.shape[1] == fmt.channels
    assert abs(len(decoded) / rate - seconds) * 1000 <= TOLERANCE_MS
    assert abs(codec.measure_duration_ms(data, name) - seconds * 1000) <= TOLERANCE_MS
    assert dominant_hz(decoded, rate) == pytest.approx(TONE_HZ, abs=3)
    # The level survives too (µ-law and MP3 are lossy, but not by 1.5 dB on a pure tone).
    rms_in = np.sqrt(np.mean(source[:, 0] ** 2))
    rms_out = np.sqrt(np.mean(decoded[:, 0] ** 2))
    assert 20 * np.log10(rms_out / rms_in) == pytest.approx(0, abs=1.5)


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items() if f.kind != "mp3"])
@pytest.mark.parametrize("samples_in", [44100, 44101, 100_003])
def test_raw_formats_have_exactly_the_resampled_number_of_samples(name, samples_in):
    fmt = get_format(name)
    data = codec.encode(tone(samples_in / RATE), RATE, name)
    bytes_per_sample = 2 if fmt.kind == "pcm" else 1
    assert len(data) % bytes_per_sample == 0
    expected = round(samples_in * fmt.sample_rate / RATE)
    assert abs(len(data) // bytes_per_sample - expected) <= 2


def test_pcm_44100_is_the_samples_as_signed_16_bit_little_endian_mono():
    source = tone(0.25, channels=1)
    data = codec.encode(source, RATE, "pcm_44100")
    assert np.frombuffer(data, "<i2") == pytest.approx(source[:, 0] * 32767, abs=1.01)


def test_ulaw_silence_is_the_g711_zero_code():
    # G.711 µ-law codes zero as 0xFF; a linear or A-law encoder would not.
    data = codec.encode(np.zeros((800, 1), np.float32), RATE, "ulaw_8000")
    assert data and set(data) == {0xFF}


def test_mp3_header_makes_decoders_trim_encoder_delay():
    # Without the Xing/LAME header a decoder plays ~1100 samples of priming plus padding, which
    # is over 25 ms at 44.1 kHz and 50 ms at 22.05 kHz; with it the length is exact.
    source = tone(1.0)
    for name in ("mp3_44100_128", "mp3_22050_32"):
        data = codec.encode(source, RATE, name)
        decoded, rate = codec.decode(data, name)
        assert abs(len(decoded) - rate) <= rate // 1000


@pytest.mark.parametrize("name", ["pcm_44100", "mp3_22050_32"])
def test_stereo_to_mono_downmix_keeps_the_level(name):
    # swresample's own stereo-to-mono matrix (0.707 per side) would turn this into a 1.26 peak
    # on the float path that feeds the MP3 encoder; 32 kbit/s MP3 itself loses about 0.5 dB.
    loud = tone(1.0, level=0.89)
    decoded, _ = codec.decode(codec.encode(loud, RATE, name), name)
    assert 0.8 < np.abs(decoded).max() < 0.95


def test_mono_input_is_spread_to_stereo_formats():
    decoded, _ = codec.decode(
        codec.encode(tone(0.5, channels=1), RATE, "mp3_44100_128"), "mp3_44100_128"
    )
    assert decoded.shape[1] == 2
    assert np.allclose(decoded[:, 0], decoded[:, 1], atol=1e-3)


def test_other_input_rates_are_resampled():
    source = tone(1.0)
    data = codec.encode(source[::2], 22050, "pcm_24000")
    assert abs(len(data) // 2 - 24000) <= 2


def test_empty_input_encodes_to_empty_audio():
    for name in FORMATS:
        data = codec.encode(np.zeros((0, 2), np.float32), RATE, name)
        assert codec.measure_duration_ms(data, name) == 0


def test_transcode_mp3_to_pcm():
    mp3 = codec.encode(tone(1.5), RATE, "mp3_44100_128")
    pcm = codec.transcode(mp3, src_format="mp3_44100_128", dst_format="pcm_16000")
    assert abs(len(pcm) // 2 - 24000) <= 16000 * TOLERANCE_MS // 1000
    assert codec.measure_duration_ms(pcm, "pcm_16000") == pytest.approx(1500, abs=TOLERANCE_MS)


def test_transcode_to_the_same_format_returns_the_bytes_unchanged():
    data = codec.encode(tone(0.3), RATE, "ulaw_8000")
    assert codec.transcode(data, src_format="ulaw_8000", dst_format="ulaw_8000") is data


def test_transcode_rejects_unknown_formats():
    with pytest.raises(KeyError):
        codec.transcode(b"", src_format="pcm_16000", dst_format="flac")
    with pytest.raises(KeyError):
        codec.transcode(b"", src_format="nope", dst_format="nope")


def test_garbage_is_a_codec_error():
    with pytest.raises(codec.CodecError):
        codec.decode(b"this is not an mp3 file" * 40, "mp3_44100_128")


@pytest.mark.parametrize("shape", [(100, 3), (2, 100, 1)])
def test_bad_sample_shapes_are_rejected(shape):
    with pytest.raises(ValueError):
        codec.encode(np.zeros(shape, np.float32), RATE, "pcm_16000")
