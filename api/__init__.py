"""The HTTP API: translates HTTP ⇄ the domain in common/."""
