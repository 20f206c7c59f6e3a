"""Audio helpers: output formats, encoding and decoding, lyric parsing, editing, waveforms."""
