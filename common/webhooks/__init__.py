"""Signed job-ended notifications (the Standard Webhooks scheme), with retries and a log."""
