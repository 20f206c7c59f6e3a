"""Readiness and status: what an operator asks of a running gateway."""
