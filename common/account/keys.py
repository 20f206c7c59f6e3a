"""API key format and hashing. Pure functions.

A key reads `mgw_<prefix>_<secret>`: the 12-hex-digit prefix is public and indexed, so a lookup
is one index probe; the whole key is stored only as its SHA-256 (keys carry 190+ random bits, so a
fast hash is enough: nothing to brute-force) and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_PATTERN = re.compile(r"^mgw_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")
# Compared against when the prefix is unknown, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"mgw_000000000000_unknown").hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (prefix, plaintext key)."""
    prefix = secrets.token_hex(6)
    return prefix, f"mgw_{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


def key_matches(key: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented key with a stored hash (or a dummy)."""
    return hmac.compare_digest(hash_key(key), stored_hash or _DUMMY_HASH) and bool(stored_hash)
