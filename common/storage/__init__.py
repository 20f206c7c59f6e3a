"""Blob storage for generated audio."""
