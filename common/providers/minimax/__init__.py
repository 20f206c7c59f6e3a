"""MiniMax Music (`music-2.0`, `music-2.6`)."""
