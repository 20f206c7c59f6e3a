"""Prices of the music SKUs, in integer micro-dollars. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

MICRO = 1_000_000


@dataclass(frozen=True)
class Sku:
    id: str
    provider: Literal["elevenlabs", "minimax"]
    provider_model: str
    prompt_max: int
    lyrics_max: int | None  # None: lyrics are ignored entirely
    # per-millisecond SKUs bill the requested length; flat SKUs bill one song
    micro_usd_per_ms: int = 0
    flat_micro_usd: int = 0

    @property
    def per_second(self) -> bool:
        return self.micro_usd_per_ms > 0


SKUS: dict[str, Sku] = {
    s.id: s
    for s in (
        # $0.135 per second = 135 micro-dollars per millisecond, exact.
        Sku("elevenlabs-music", "elevenlabs", "music_v1", 2000, None, micro_usd_per_ms=135),
        Sku("minimax-music", "minimax", "music-2.0", 200, 600, flat_micro_usd=45_000),
        Sku("minimax-music-pro", "minimax", "music-2.6", 200, 600, flat_micro_usd=210_000),
    )
}
DEFAULT_SKU = "elevenlabs-music"


def billed_duration_ms(sku: Sku, *, requested_ms: int, delivered_ms: int) -> int:
    """The length a job is billed and reported for: what was asked for on a per-second SKU
    (the price was locked on it), the track's measured length on a flat one."""
    return requested_ms if sku.per_second else delivered_ms


def price_micro_usd(sku: Sku, *, music_length_ms: int) -> int:
    """What a request costs, locked at submit time."""
    if sku.per_second:
        return sku.micro_usd_per_ms * music_length_ms
    return sku.flat_micro_usd


def format_usd(micro_usd: int) -> str:
    """Micro-dollars as a plain decimal string: 4050000 → '4.05', 45000 → '0.045', 0 → '0'."""
    return _plain(Decimal(micro_usd).scaleb(-6))


def format_seconds(ms: int) -> str:
    """Milliseconds as plain decimal seconds: 30000 → '30', 31500 → '31.5'."""
    return _plain(Decimal(ms).scaleb(-3))


# The largest amount one money movement may carry: $1 billion, far below what a BIGINT of
# micro-dollars holds, so no balance can overflow through a few of them.
MAX_AMOUNT_MICRO_USD = 10**15


def usd_to_micro(amount: str | Decimal) -> int:
    """A decimal dollar amount ('12.34') as micro-dollars. ValueError for what is not a finite
    amount, has more than 6 decimals, or is beyond MAX_AMOUNT_MICRO_USD either way."""
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not a number") from exc
    if not value.is_finite():
        raise ValueError(f"{amount} is not a finite amount")
    if abs(value) * MICRO > MAX_AMOUNT_MICRO_USD:
        raise ValueError(f"{amount} is more than ${MAX_AMOUNT_MICRO_USD // MICRO:,}")
    micro = value * MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"{amount} has more precision than a micro-dollar")
    return int(micro)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"
