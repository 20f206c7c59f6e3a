"""Metrics (Prometheus) shared by the API and the workers."""
