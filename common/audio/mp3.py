"""MP3 encoding through LAME (the lameenc binding), with the tag that makes decoders exact.

An MP3 encoder primes its filter bank with silence and pads the last frame, so a bare stream
decodes about 1,100 samples longer than what went in. LAME's library API leaves recording that
to the caller (lameenc turns the tag off), so this module writes it: a first frame carrying a
Xing "Info" header (CBR) and a LAME extension whose 12-bit encoder delay and padding fields tell
decoders (FFmpeg, mpg123, browsers) how many samples to drop at each end. With it the decoded
length is exactly the number of samples encoded.

Layout: http://gabriel.mp3-tech.org/mp3infotag.html (Xing header + LAME extension, 36 bytes).
"""

import lameenc
import numpy as np

ENCODER_DELAY = 576  # samples of priming before the first input sample (LAME's ENCDELAY)
QUALITY = 7  # LAME's -q: 0 best .. 9 fastest; 7 is its "fast" preset, without the slow searches
_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 layer III
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000)}
_STRETCH = 1152 * 32  # sample frames converted and handed to LAME at a time
_TOC = bytes(i * 256 // 100 for i in range(100))  # a CBR stream's seek table is a straight line
_XING_SIZE = 120  # "Info", flags, frames, bytes, 100-byte seek table, quality
_LAME_SIZE = 36


class EncodeError(RuntimeError):
    """LAME produced a stream this module cannot describe (it never should)."""


def encode_mp3(pcm: np.ndarray, sample_rate: int, kbps: int) -> bytes:
    """Encode float samples (n, channels) in [-1, 1] as a constant-bitrate MP3 with an Info tag."""
    samples, channels = pcm.shape
    if not samples:
        return b""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(channels)
    encoder.set_quality(QUALITY)
    # LAME buffers what it is given and cuts the same frames however the input is split, so the
    # samples go in a stretch at a time: converted to 16-bit in two small buffers that stay in
    # the cache, where a whole 3-minute track would take four passes over fresh memory.
    frames = min(samples, _STRETCH)
    scaled = np.empty((frames, channels), dtype=np.float32)
    ints = np.empty((frames, channels), dtype="<i2")
    parts = []
    for first in range(0, samples, frames):
        count = min(frames, samples - first)
        block = np.multiply(pcm[first : first + count], np.float32(32767), out=scaled[:count])
        np.rint(block, out=block)
        np.clip(block, -32768, 32767, out=block)
        np.copyto(ints[:count], block, casting="unsafe")
        parts.append(encoder.encode(ints[:count]))
    parts.append(encoder.flush())
    audio = b"".join(parts)
    return _info_frame(audio, samples, sample_rate) + audio


def _header(data: bytes, offset: int) -> tuple[int, int, int, int]:
    """(header word, MPEG version bits, sample rate, frame length in bytes) at `offset`."""
    word = int.from_bytes(data[offset : offset + 4], "big")
    version = (word >> 19) & 3
    if word >> 21 != 0x7FF or version not in _BITRATES or (word >> 17) & 3 != 1:
        raise EncodeError(f"no MPEG layer III frame at byte {offset}")
    kbps = _BITRATES[version][(word >> 12) & 15]
    rate = _RATES[version][(word >> 10) & 3]
    per_kbps = 144_000 if version == 3 else 72_000
    return word, version, rate, per_kbps * kbps // rate + ((word >> 9) & 1)


def _info_frame(audio: bytes, samples: int, sample_rate: int) -> bytes:
    word, version, rate, _ = _header(audio, 0)
    if rate != sample_rate:
        raise EncodeError(f"LAME resampled {sample_rate} Hz to {rate} Hz")
    frames, offset = 0, 0
    while offset < len(audio):
        offset += _header(audio, offset)[3]
        frames += 1
    per_frame = 1152 if version == 3 else 576
    padding = frames * per_frame - ENCODER_DELAY - samples
    if not 0 <= padding < 4096:
        raise EncodeError(f"encoder padding {padding} does not fit the tag")
    mono = (word >> 6) & 3 == 3
    side_info = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    xing = 4 + side_info
    # The tag frame is a frame of its own: the smallest bitrate whose frame holds the tag.
    per_kbps = 144_000 if version == 3 else 72_000
    index = next(
        i
        for i, kbps in enumerate(_BITRATES[version])
        if kbps and per_kbps * kbps // rate >= xing + _XING_SIZE + _LAME_SIZE
    )
    size = per_kbps * _BITRATES[version][index] // rate
    # Same version, rate and channel mode; this bitrate; no padding slot; no CRC.
    header = (word & ~(0xF << 12) & ~(1 << 9)) | (index << 12) | (1 << 16)
    total = size + len(audio)
    frame = bytearray(size)
    frame[0:4] = header.to_bytes(4, "big")
    # Xing: frame count, byte count and seek table present (flags 1, 2, 4), quality field (8).
    frame[xing : xing + 4] = b"Info"
    frame[xing + 4 : xing + 8] = (0x0F).to_bytes(4, "big")
    frame[xing + 8 : xing + 12] = frames.to_bytes(4, "big")
    frame[xing + 12 : xing + 16] = total.to_bytes(4, "big")
    frame[xing + 16 : xing + 116] = _TOC
    lame = xing + _XING_SIZE
    # The encoder's name; lameenc does not report LAME's version, so that part stays blank.
    frame[lame : lame + 9] = b"LAME     "
    frame[lame + 9] = 0x01  # tag revision 0, constant bitrate
    frame[lame + 20] = min(_BITRATES[version][(word >> 12) & 15], 255)
    frame[lame + 21 : lame + 24] = ((ENCODER_DELAY << 12) | padding).to_bytes(3, "big")
    frame[lame + 28 : lame + 32] = total.to_bytes(4, "big")
    frame[lame + 34 : lame + 36] = _crc16(bytes(frame[: lame + 34])).to_bytes(2, "big")
    return bytes(frame)


def _crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005, reflected), which the LAME tag's own checksum uses."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
