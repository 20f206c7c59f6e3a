"""The offline provider's synthesiser: a prompt and lyrics in, a finished stereo piece out.

`compose` decides the genre, form, tempo, key and every note (a `Score`); `render` plays a score
into a stereo mix; `master` brings the mix to a standard loudness under a true-peak limit.
`synthesize` is the only entry point the rest of the code needs.
"""

from dataclasses import dataclass

import numpy as np

from common.providers.local.synth.compose import compose
from common.providers.local.synth.master import master
from common.providers.local.synth.render import render
from common.providers.local.synth.score import SAMPLE_RATE, Score

__all__ = ["SAMPLE_RATE", "Score", "Track", "compose", "master", "render", "synthesize"]


@dataclass(frozen=True)
class Track:
    """Rendered audio: float32 samples of shape (n, 2); from 0.4 s on, -14 LUFS integrated with
    the true peak under -1 dBTP."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_ms(self) -> int:
        """Length in milliseconds, rounded."""
        return round(len(self.samples) * 1000 / self.sample_rate)


def synthesize(*, prompt: str | None, lyrics: str | None, length_ms: int | None) -> Track:
    """Compose, render and master a piece; exactly `length_ms` long when given, else as the
    lyrics need."""
    score = compose(prompt=prompt, lyrics=lyrics, length_ms=length_ms)
    samples = master(render(score), score.sample_rate, fade_out=score.fade_out)
    return Track(samples, score.sample_rate)
