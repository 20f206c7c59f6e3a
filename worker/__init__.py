"""Celery workers: translate Celery ⇄ the domain in common/."""
