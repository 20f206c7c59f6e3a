import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from common.providers.local.synth import SAMPLE_RATE, compose, master, render, synthesize
from common.providers.local.synth.master import integrated_loudness, true_peak_dbfs


def true_peak(samples: np.ndarray) -> float:
    return 20 * float(np.log10(np.abs(resample_poly(samples, 4, 1, axis=0)).max()))


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal((2, round(seconds * SAMPLE_RATE)))).astype(np.float32)


@pytest.mark.parametrize(
    "mix",
    [
        noise(5, 0.1),
        noise(3, 0.01, seed=1),
        np.tile(np.sin(np.arange(4 * SAMPLE_RATE) * 0.03).astype(np.float32), (2, 1)) * 0.3,
        # Mostly silence with one loud second: the gates must ignore the silence.
        np.concatenate([np.zeros((2, 4 * SAMPLE_RATE), np.float32), noise(1, 0.2)], axis=1),
    ],
)
def test_loudness_agrees_with_pyloudnorm(mix):
    expected = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(mix.T.astype(np.float64))
    assert integrated_loudness(mix, SAMPLE_RATE) == pytest.approx(expected, abs=0.01)


def test_loudness_of_a_rendered_mix_agrees_with_pyloudnorm():
    mix = render(compose(prompt="jazz", lyrics=None, length_ms=12000))
    expected = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(mix.T)
    assert integrated_loudness(mix, SAMPLE_RATE) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("level", [0.01, 0.2, 3.0])
def test_master_reaches_the_target_whatever_the_level_of_the_mix(level):
    mix = render(compose(prompt="rock", lyrics=None, length_ms=10000)) * np.float32(level)
    out = master(mix, SAMPLE_RATE, fade_out=0.25)
    assert out.shape[1] == 2 and out.flags.c_contiguous
    assert pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(out) == pytest.approx(-14, abs=0.2)
    assert true_peak(out) <= -1.0


def test_a_mix_with_big_transients_is_limited_not_turned_down():
    # Quiet tone with loud clicks: normalising it to -14 LUFS needs ~12 dB of peak reduction.
    mix = noise(6, 0.02) + np.float32(0)
    mix[:, :: SAMPLE_RATE // 4] = 1.0
    out = master(mix, SAMPLE_RATE, fade_out=0.0)
    assert pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(out) == pytest.approx(-14, abs=0.3)
    assert true_peak(out) <= -1.0


def test_true_peak_estimate_matches_full_oversampling():
    samples = synthesize(prompt="edm", lyrics=None, length_ms=8000).samples
    assert true_peak_dbfs(np.ascontiguousarray(samples.T), SAMPLE_RATE) == pytest.approx(
        true_peak(samples), abs=0.01
    )


def test_silence_and_very_short_mixes_pass_through():
    silent = master(np.zeros((2, SAMPLE_RATE), np.float32), SAMPLE_RATE, fade_out=0.1)
    assert not silent.any()
    short = master(noise(0.2, 0.5), SAMPLE_RATE, fade_out=0.05)
    assert short.shape == (round(0.2 * SAMPLE_RATE), 2)
    assert np.abs(short).max() <= 10 ** (-1 / 20)
