"""ElevenLabs Music (`music_v1`)."""
