"""Audio helpers: output formats, encoding and decoding, lyric parsing, the local synthesiser."""
